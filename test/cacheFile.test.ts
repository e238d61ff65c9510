// Cache files are best effort: a cache directory that cannot be used means no cache, never a crash.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readCacheFile, writeCacheFile } from '../lib/util/cacheFile.js'
import { tempDir } from './helpers/tmp.js'

t.test('a cache "directory" that is a file: not written, nothing thrown', async (t) => {
  const dir = tempDir(t, 'casa-cache-')
  const notADir = join(dir, 'casa-distro-admin')
  writeFileSync(notADir, '')
  const file = join(notADir, 'image-definitions.json')
  t.equal(writeCacheFile(file, { a: 1 }), false)
  t.equal(readCacheFile(file), undefined)
})

t.test('written and read back', async (t) => {
  const file = join(tempDir(t, 'casa-cache-'), 'sub', 'c.json')
  t.equal(writeCacheFile(file, { a: 1 }), true)
  t.same(readCacheFile(file), { a: 1 })
})
