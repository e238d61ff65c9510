import t from 'tap'
import { imageFilter } from '../lib/images/imageFilter.js'

t.test('wildcards match the whole name, comma-separated alternatives', async (t) => {
  const f = imageFilter('cati/casa-dev:*,cati/*:ubuntu-1?.04')
  t.ok(f.matches('cati/casa-dev:ubuntu-22.04'))
  t.ok(f.matches('cati/casa-test:ubuntu-18.04'))
  t.notOk(f.matches('cati/casa-test:ubuntu-22.04'))
  t.notOk(f.matches('other/casa-dev:ubuntu-22.04'))
  t.notOk(imageFilter('cati/casa').matches('cati/casa-dev:x'), 'no implicit prefix match')
})

t.test('character classes and literal dots', async (t) => {
  t.ok(imageFilter('cati/casa-[dt]*').matches('cati/casa-dev:1'))
  t.notOk(imageFilter('cati/casa-[!dt]*').matches('cati/casa-dev:1'))
  t.notOk(imageFilter('cati/a.b').matches('cati/aXb'), 'a dot is literal')
})

t.test('a malformed wildcard is a usage error naming the option and the pattern', async (t) => {
  t.throws(() => imageFilter('a*,[z-a]', 'components'), { name: 'UsageError', message: 'components=a*,[z-a]: invalid wildcard "[z-a]": range out of order in character class' })
  t.throws(() => imageFilter('cati/[z-a]*'), { name: 'UsageError', message: /^image_names=cati\/\[z-a\]\*: invalid wildcard "cati\/\[z-a\]\*"/ })
})
