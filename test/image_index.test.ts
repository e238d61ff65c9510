/// <reference lib="dom" />
// The published image index: publish_singularity keeps images.json and index.html on the
// server hub (file:// here), merged across runs from two "machines" (two repositories sharing
// the hub), an entry dropping out when its file is removed from the hub; index.html opened
// from disk in a real headless Chromium (Debian's /usr/bin/chromium): no console error, no
// network request, one row per image of the JSON; a screenshot kept in test-artifacts/.
// The SIF files are written with our own writer and found through tagged docker images.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { dataTypes, planSif } from '../lib/sif/sifWriter.js'
import { signSif } from '../lib/sif/sifSignature.js'
import { readSecretKeys } from '../lib/sif/pgpKeys.js'
import type { ImageIndex } from '../lib/singularity/imageIndex.js'
import { projectRoot, runCli } from './helpers/cli.js'
import { judge } from './helpers/sifJudge.js'
import { ensureBusyboxImage, startHttpServer } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const chromiumPath = '/usr/bin/chromium'
const dir = tempDir(t, 'casa-sif-index-')
const hub = join(dir, 'hub')
mkdirSync(hub)
const tag = `1-r${process.pid}`
const images = ['casa-test-index/alpha', 'casa-test-index/beta', 'casa-test-index/gamma'].map((name) => `${name}:${tag}`)
for (const image of images) execFileSync('docker', ['tag', ensureBusyboxImage(), image])
t.teardown(() => void spawnSync('docker', ['image', 'rm', ...images]))
const fileName = (image: string) => `${image.replace(/[/:]/g, '_')}.sif`

// The download URL, served over HTTP from the hub directory (publishing reads the .md5 there).
const http = await startHttpServer(hub)
t.teardown(() => http.stop())
const download = http.url

function machine(name: string): { repo: string; publish: (filter: string) => ReturnType<typeof runCli> } {
  const repo = join(dir, name)
  mkdirSync(repo)
  const config = join(repo, 'casa.config.ts')
  writeFileSync(config, `export default { hubs: { singularity: { upload: 'file://${hub}', download: '${download}' } } }\n`)
  return { repo, publish: (filter) => runCli(['-r', repo, 'publish_singularity', filter], { env: { HOME: repo, CASA_CONFIG: config } }) }
}

function sifFor(repo: string, image: string, labels: Record<string, string>): string {
  const path = join(repo, fileName(image))
  const plan = planSif({ objects: [{ type: dataTypes.labels, name: 'labels.json', data: Buffer.from(JSON.stringify(labels)) }], partitionSize: 64 * 1024, arch: 'amd64', time: 1_700_000_000 })
  writeFileSync(path, Buffer.concat([plan.head, randomBytes(plan.partitionSize)]))
  writeFileSync(`${path}.md5`, `${createHash('md5').update(readFileSync(path)).digest('hex')}\n`)
  writeFileSync(`${path}.dockerid`, `sha256:${image.length}\n`)
  return path
}

t.test('images.json and index.html: merged across machines, removed files drop out, rendered in Chromium', async (t) => {
  const keys = join(dir, 'keys')
  mkdirSync(keys)
  const fingerprint = judge('genkey', 'Alice', keys).output.trim()
  const a = machine('a')
  const b = machine('b')
  const alpha = sifFor(a.repo, images[0]!, { 'org.casa-distro.docker.image': images[0]!, hostile: '<img src=x onerror=alert(1)>' })
  const [key] = await readSecretKeys(join(keys, 'secret.asc'))
  await signSif(alpha, key!, { writeMd5: async (path, md5) => writeFileSync(`${path}.md5`, `${md5}\n`) })
  const fromA = await a.publish('casa-test-index/alpha:*')
  t.equal(fromA.code, 0, fromA.stderr)
  sifFor(b.repo, images[1]!, { version: '2' })
  sifFor(b.repo, images[2]!, { version: '3' })
  const fromB = await b.publish('casa-test-index/*a:*') // beta and gamma (alpha is not in b)
  t.equal(fromB.code, 0, fromB.stderr)

  const index = JSON.parse(readFileSync(join(hub, 'images.json'), 'utf8')) as ImageIndex
  t.same(index.images.map((e) => e.file), images.map(fileName), 'the image published from the other machine stays listed')
  const alphaEntry = index.images[0]!
  t.equal(alphaEntry.md5, readFileSync(`${alpha}.md5`, 'utf8').trim())
  t.equal(alphaEntry.sha256, createHash('sha256').update(readFileSync(join(hub, fileName(images[0]!)))).digest('hex'))
  t.equal(alphaEntry.size, readFileSync(alpha).length)
  t.equal(alphaEntry.image, images[0])
  t.equal(alphaEntry.dockerId, `sha256:${images[0]!.length}`)
  t.equal(alphaEntry.created, new Date(1_700_000_000_000).toISOString())
  t.same(alphaEntry.signers, [fingerprint])
  t.equal(alphaEntry.labels.hostile, '<img src=x onerror=alert(1)>')
  t.same(index.images[1]!.signers, [])
  t.equal(index.images[2]!.labels.version, '3')

  if (existsSync(chromiumPath)) {
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] })
    t.teardown(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1400, height: 600 } })
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    const pageUrl = pathToFileURL(join(hub, 'index.html')).href
    page.on('request', (request) => {
      if (request.url() !== pageUrl) problems.push(`request: ${request.url()}`)
    })
    await page.goto(pageUrl)
    const rows = await page.$$eval('tbody tr', (trs) =>
      trs.map((tr) => ({
        file: tr.getAttribute('data-file'),
        name: tr.querySelector('.name a')!.textContent,
        signers: tr.querySelector('.signers')!.textContent,
        commands: tr.querySelector('.commands pre')!.textContent,
      })),
    )
    t.equal(rows.length, index.images.length, 'one row per image of images.json')
    for (const [i, entry] of index.images.entries()) {
      t.equal(rows[i]!.file, entry.file)
      t.equal(rows[i]!.name, entry.image)
      t.equal(rows[i]!.signers, entry.signers.length ? entry.signers.join('') : 'not signed')
      t.equal(rows[i]!.commands, `apptainer pull ${entry.file} ${download}/${entry.file}\napptainer verify ${entry.file}`)
    }
    const artifacts = join(projectRoot, 'test-artifacts')
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: join(artifacts, 'image_index.png'), fullPage: true })
    t.same(problems, [], 'no console error, page error or network request')
  } else t.fail(`${chromiumPath} missing: run scripts/install-deps.sh`)

  // A file removed from the hub drops out of the index at the next publication.
  rmSync(join(hub, fileName(images[1]!)))
  const again = await a.publish('casa-test-index/alpha:*')
  t.equal(again.code, 0, again.stderr)
  const after = JSON.parse(readFileSync(join(hub, 'images.json'), 'utf8')) as ImageIndex
  t.same(after.images.map((e) => e.file), [fileName(images[0]!), fileName(images[2]!)])
  t.match(readFileSync(join(hub, 'index.html'), 'utf8'), /2 images/)
  t.notMatch(readFileSync(join(hub, 'index.html'), 'utf8'), fileName(images[1]!))
})
