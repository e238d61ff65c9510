// publish_casa_distro checks the zip before it uploads it and switches casa-distro.zip: a
// truncated file, one that is not a zip, or the package of another version renamed by hand is
// refused in one line, and nothing reaches the hub. A real file hub and the real CLI.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { zipArchive } from '../lib/distro/zipWriter.js'
import { casaDistroZipProblem } from '../lib/distro/zipCheck.js'

const version = '9.9.9-zipcheck'
const zipOf = (v: string) => zipArchive([{ name: `casa-distro-${v}/package.json`, data: Buffer.from(JSON.stringify({ name: 'casa-distro-admin', version: v })) }, { name: `casa-distro-${v}/bin/x.js`, data: Buffer.from('x'.repeat(5000)) }])

t.test('casaDistroZipProblem: whole, and the version named', async (t) => {
  const good = zipOf(version)
  t.equal(casaDistroZipProblem(good, version), undefined)
  t.match(casaDistroZipProblem(good.subarray(0, good.length - 30), version), /not a zip archive|damaged/, 'truncated')
  t.match(casaDistroZipProblem(Buffer.from('not a zip at all, just text'), version), /not a zip archive/)
  t.equal(casaDistroZipProblem(zipOf('1.0.0'), version), `no casa-distro-${version}/package.json in it: not the casa-distro ${version} package`)
  const damaged = Buffer.from(good)
  // the last byte before the central directory is package.json's (entries are sorted): its checksum no longer matches
  damaged[good.readUInt32LE(good.length - 22 + 16) - 1] ^= 0xff
  t.match(casaDistroZipProblem(damaged, version) ?? '', /damaged|checksum/)
})

t.test('publish_casa_distro refuses a bad zip before anything is uploaded', async (t) => {
  const dir = tempDir(t, 'casa-zipcheck-')
  const home = join(dir, '.home')
  mkdirSync(home)
  const hub = join(dir, 'hub')
  writeFileSync(join(dir, 'casa.config.ts'), `export default { hubs: { casaDistro: { upload: 'file://${hub}' } } }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  const zip = join(dir, `casa-distro-${version}.zip`)
  const good = zipOf(version)
  for (const [label, data, message] of [
    ['truncated', good.subarray(0, good.length - 10), /not a zip archive|damaged/],
    ['another version', zipOf('1.0.0'), /not the casa-distro 9\.9\.9-zipcheck package/],
  ] as const) {
    writeFileSync(zip, data)
    const r = await runCli(['-r', dir, 'publish_casa_distro', `package_version=${version}`], { env })
    t.equal(r.code, 1, `${label}: exit 1`)
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'))
    t.equal(errors.length, 1, `${label}: one line`)
    t.match(errors[0] ?? '', message, `${label}: says why`)
    t.match(errors[0] ?? '', zip, `${label}: names the file`)
    t.notOk(existsSync(hub) && readdirSync(hub).length > 0, `${label}: nothing on the hub`)
  }
  writeFileSync(zip, good)
  const r = await runCli(['-r', dir, 'publish_casa_distro', `package_version=${version}`], { env })
  t.equal(r.code, 0, r.stderr)
  t.same(readFileSync(join(hub, `casa-distro-${version}.zip`)), good, 'a whole zip is published')
})
