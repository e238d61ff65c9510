// lib/singularity/imageLayers on hand-made `docker save` archives (the legacy layout of
// Docker 20.10 and the OCI one of newer engines), made by GNU tar from directories: the
// image's own entries at docker's init-layer paths, top layer first, whiteouts and opaque
// directories applied; and lib/singularity/elfArch on ELF headers.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { imageEntriesAt } from '../lib/singularity/imageLayers.js'
import { elfArch } from '../lib/singularity/elfArch.js'
import { tempDir } from './helpers/tmp.js'

type Layer = Record<string, string | { link: string } | 'dir'>

function layerTar(dir: string, files: Layer): Buffer {
  for (const [path, what] of Object.entries(files)) {
    const full = join(dir, path)
    if (what === 'dir') {
      mkdirSync(full, { recursive: true })
      continue
    }
    mkdirSync(join(full, '..'), { recursive: true })
    if (typeof what === 'string') writeFileSync(full, what)
    else symlinkSync(what.link, full)
  }
  return execFileSync('tar', ['-c', '--numeric-owner', '--sort=name', '-C', dir, '.'], { maxBuffer: 1 << 26 })
}

/** A legacy save: <id>/layer.tar in lexical order (not the layer order), manifest.json last. */
function legacySave(root: string, layers: Layer[], shareFirst = false): Buffer {
  const save = join(root, 'save')
  mkdirSync(save)
  const ids = layers.map((_, i) => `${String.fromCharCode(0x66 - i)}${'0'.repeat(63)}`) // f..., e..., d...: reverse of the layer order
  layers.forEach((layer, i) => {
    mkdirSync(join(save, ids[i]!))
    if (shareFirst && i === layers.length - 1) symlinkSync(`../${ids[0]}/layer.tar`, join(save, ids[i]!, 'layer.tar'))
    else writeFileSync(join(save, ids[i]!, 'layer.tar'), layerTar(join(root, `l${i}`), layer))
    writeFileSync(join(save, ids[i]!, 'json'), '{}')
  })
  writeFileSync(join(save, 'manifest.json'), JSON.stringify([{ Config: 'c.json', Layers: ids.map((id) => `${id}/layer.tar`) }]))
  writeFileSync(join(save, 'c.json'), '{"architecture":"amd64"}')
  return execFileSync('tar', ['-c', '--sort=name', '-C', save, '.'], { maxBuffer: 1 << 26 })
}

const paths = async (save: Buffer) => {
  const chunks: Buffer[] = []
  for (let i = 0; i < save.length; i += 1000) chunks.push(save.subarray(i, i + 1000)) // headers split across chunks
  return (await imageEntriesAt(Readable.from(chunks))).map((e) => {
    const listed = execFileSync('tar', ['-tv', '-f', '-'], { input: Buffer.concat([e.bytes, Buffer.alloc(1024)]), encoding: 'utf8' }).trim()
    const content = e.type === '0' ? execFileSync('tar', ['-xO', '-f', '-'], { input: Buffer.concat([e.bytes, Buffer.alloc(1024)]), encoding: 'utf8' }) : ''
    return { path: e.path, type: e.type, content, listed }
  })
}

t.test('the topmost layer wins; whiteouts and opaque directories hide lower entries', async (t) => {
  const root = tempDir(t)
  const got = await paths(
    legacySave(root, [
      { 'etc/hostname': 'bottom\n', 'etc/mtab': { link: '../proc/self/mounts' }, '.dockerenv': '', 'dev/pts': 'dir', 'dev/shm': 'dir' },
      { 'etc/hostname': 'top\n', 'dev/.wh.shm': '', 'usr/x': 'unrelated' },
      { 'dev/.wh..wh..opq': '', dev: 'dir', '.wh..dockerenv': '' },
    ]),
  )
  const by = new Map(got.map((e) => [e.path, e]))
  t.equal(by.get('etc/hostname')?.content, 'top\n', 'the upper layer wins')
  t.equal(by.get('etc/mtab')?.type, '2', 'a link kept')
  t.match(by.get('etc/mtab')?.listed ?? '', /-> \.\.\/proc\/self\/mounts/)
  t.notOk(by.has('.dockerenv'), 'a whiteout deletes')
  t.notOk(by.has('dev/pts'), 'an opaque directory hides what lower layers had in it')
  t.notOk(by.has('dev/shm'))
  t.equal(by.get('dev')?.type, '5', 'the directory itself comes from the layer that made it opaque')
  t.ok(by.has('etc'), 'the directories of the watched paths too')
  t.notOk(by.has('usr/x'), 'nothing else')
})

t.test('a layer shared by two ids (a link in the legacy layout) is found', async (t) => {
  const root = tempDir(t)
  const got = await paths(legacySave(root, [{ 'etc/hostname': 'shared\n' }, { 'etc/.wh.hostname': '' }, {}], true))
  t.same(got.find((e) => e.path === 'etc/hostname')?.content, 'shared\n', 'the top layer is the bottom one again: its entry is back')
})

t.test('the OCI layout of newer engines (blobs/sha256/..., config blobs that are not tars)', async (t) => {
  const root = tempDir(t)
  const save = join(root, 'oci')
  mkdirSync(join(save, 'blobs', 'sha256'), { recursive: true })
  const l0 = `${'a'.repeat(64)}`
  const l1 = `${'b'.repeat(64)}`
  writeFileSync(join(save, 'blobs', 'sha256', l0), layerTar(join(root, 'x0'), { 'etc/hostname': 'oci\n', 'dev/console': 'not a device here' }))
  writeFileSync(join(save, 'blobs', 'sha256', l1), layerTar(join(root, 'x1'), { 'dev/.wh.console': '' }))
  writeFileSync(join(save, 'blobs', 'sha256', 'c'.repeat(64)), '{"architecture":"amd64","config":{}}'.padEnd(2000, ' '))
  writeFileSync(join(save, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${'c'.repeat(64)}`, Layers: [`blobs/sha256/${l0}`, `blobs/sha256/${l1}`] }]))
  const got = await paths(execFileSync('tar', ['-c', '--sort=name', '-C', save, '.'], { maxBuffer: 1 << 26 }))
  t.same(got.filter((e) => e.type === '0').map((e) => [e.path, e.content]), [['etc/hostname', 'oci\n']])
})

t.test('an export without manifest.json is an error', async (t) => {
  const root = tempDir(t)
  writeFileSync(join(root, 'x'), 'y')
  await t.rejects(imageEntriesAt(Readable.from([execFileSync('tar', ['-c', '-C', root, 'x'])])), /no readable manifest\.json/)
})

t.test('ELF headers: the architectures of the SIF table', async (t) => {
  const elf = (cls: number, data: number, machine: number) => {
    const b = Buffer.alloc(64)
    b.writeUInt32BE(0x7f454c46, 0)
    b[4] = cls
    b[5] = data
    if (data === 1) b.writeUInt16LE(machine, 18)
    else b.writeUInt16BE(machine, 18)
    return b
  }
  t.equal(elfArch(elf(2, 1, 62)), 'amd64')
  t.equal(elfArch(elf(2, 1, 183)), 'arm64')
  t.equal(elfArch(elf(1, 1, 3)), '386')
  t.equal(elfArch(elf(1, 1, 40)), 'arm')
  t.equal(elfArch(elf(2, 1, 21)), 'ppc64le')
  t.equal(elfArch(elf(2, 2, 21)), 'ppc64')
  t.equal(elfArch(elf(2, 2, 22)), 's390x')
  t.equal(elfArch(elf(2, 1, 243)), 'riscv64')
  t.equal(elfArch(elf(2, 1, 258)), 'loong64')
  t.equal(elfArch(elf(2, 1, 8)), 'mips64le')
  t.equal(elfArch(elf(1, 2, 8)), 'mips')
  t.equal(elfArch(Buffer.from('#!/bin/sh\n'.padEnd(64))), undefined, 'a script is no ELF')
})
