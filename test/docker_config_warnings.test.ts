// A docker CLI configuration that docker cannot read ($DOCKER_CONFIG/config.json malformed,
// or a directory) only makes docker print a WARNING line on stderr before doing its work with
// the defaults. The image tasks must go on as docker does: that line read as part of an
// inspection's failure turned every image not yet built into "docker image failed".
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureDocker } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

ensureDocker()

/** What a run said on stderr, its timed progress lines left out. */
const messages = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
    .join('\n')

t.test('a config.json docker warns about: the image tasks answer as with a readable one', async (t) => {
  const dir = tempDir(t, 'casa-docker-config-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), 'export default {}\n')
  const good = join(dir, 'good')
  mkdirSync(good)
  writeFileSync(join(good, 'config.json'), '{}\n')
  const malformed = join(dir, 'malformed')
  mkdirSync(malformed)
  writeFileSync(join(malformed, 'config.json'), '{not json\n')
  const directory = join(dir, 'directory')
  mkdirSync(join(directory, 'config.json'), { recursive: true })
  const env = (config: string) => ({ HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined })
  for (const args of [['list_images'], ['publish_docker', '--dry-run'], ['create_docker', '--dry-run']]) {
    const expected = await runCli(['-r', dir, ...args], { env: env(good) })
    t.notMatch(expected.stderr, /docker image failed/, `${args.join(' ')} with a readable config: ${expected.stderr}`)
    for (const config of [malformed, directory]) {
      const run = await runCli(['-r', dir, ...args], { env: env(config) })
      t.equal(run.code, expected.code, `${args.join(' ')}, ${config}: ${run.stderr}`)
      t.notMatch(run.stderr, /docker image failed|No such image/, `${args.join(' ')}, ${config}: no image inspection failure`)
      t.equal(run.stdout, expected.stdout, `${args.join(' ')}, ${config}: the same answer`)
      t.equal(messages(run.stderr), messages(expected.stderr), `${args.join(' ')}, ${config}: the same messages`)
    }
  }
})
