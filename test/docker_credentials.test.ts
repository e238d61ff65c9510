// The docker login used for ORAS pushes is read where the docker CLI reads it:
// $DOCKER_CONFIG/config.json, or ~/.docker/config.json when DOCKER_CONFIG is unset or empty
// (docker takes an empty DOCKER_CONFIG as unset, not as the current directory).
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pushSifArtifact } from '../lib/registry/registry.js'
import { startRegistry } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

t.test('DOCKER_CONFIG empty: the login in ~/.docker/config.json is used', async (t) => {
  const auth = { user: 'casa', password: 'login-pw-7' }
  const registry = await startRegistry({ auth })
  t.teardown(() => registry.stop())
  const dir = tempDir(t, 'casa-docker-login-')
  const home = join(dir, 'home')
  mkdirSync(join(home, '.docker'), { recursive: true })
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } } }))
  const file = join(dir, 'image.sif')
  writeFileSync(file, 'not really a SIF, but bytes to push')
  const saved = { HOME: process.env.HOME, DOCKER_CONFIG: process.env.DOCKER_CONFIG }
  t.teardown(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
  process.env.HOME = home
  process.env.DOCKER_CONFIG = ''
  const pushed = await pushSifArtifact({ file, host: registry.host, repository: 'casa/login', tag: 't1', title: 'image.sif' }).catch((error: Error) => error)
  t.notOk(pushed instanceof Error, `pushed with the login of ~/.docker: ${(pushed as Error).message}`)
})
