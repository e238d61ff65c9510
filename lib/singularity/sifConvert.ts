// One docker image -> one SIF file, as a stream with no root and no unpacked copy:
// `docker create`, `docker export` | RootfsStream | tar2sqfs, then the SIF head put in front.
// The image's own entries at the few paths where the export shows docker's init layer come
// from the engine's layer directories when readable (lib/singularity/layerDirs.ts), else
// from `docker save` read at the same time (lib/singularity/imageLayers.ts).
//
// Reproducible: the same image (same id) gives the same bytes, whenever, wherever and with
// whatever TMPDIR it is converted: the SIF's id and times, the times of the entries we add,
// the labels and the definition file all derive from the image (lib/singularity/sifMetadata.ts).
//
// Disk: where the output file system supports `fallocate --insert-range` (ext4, xfs), the
// squashfs is written straight into the temporary SIF in the output directory and the head
// is inserted in front of it, so the peak extra disk is the output itself. Elsewhere (tmpfs,
// nfs...) the squashfs goes to the temporary directory ($APPTAINER_TMPDIR,
// $SINGULARITY_TMPDIR, $TMPDIR) and is copied behind the head, the md5 computed while
// copying. Everything is written under a temporary name, read back and checked, then
// renamed; .dockerid and .md5 come last.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { chmod, open, rename, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createContainer, exportContainer, removeContainer, saveImage, type ImageInfo } from '../docker/docker.js'
import { imageEntriesAt, initLayerPaths } from './imageLayers.js'
import { entriesFromLayerDirectories } from './layerDirs.js'
import { definitionFile, imageTime, inspectMetadata, ociConfig, sifLabels, sifUuid } from './sifMetadata.js'
import { UserError, errorMessage } from '../util/errors.js'
import { printable, ui } from '../util/ui.js'
import { lastLines, run } from '../util/exec.js'
import { onInterrupt } from '../util/interrupt.js'
import { RootfsStream } from './rootfs.js'
import { primaryPartition, readSif } from '../sif/sifReader.js'
import { dataTypes, planSif, type SifPlan } from '../sif/sifWriter.js'
import { exportLabels, removeKilledConversionFiles, removeKilledExportContainers } from './convertLeftovers.js'
import { squashfsBuilder, squashfsBytesUsed, startSquashfs, type Compressor } from './squashfs.js'

/** Where temporary files go: the variables Apptainer and Singularity users already set. */
export function temporaryDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.APPTAINER_TMPDIR || env.SINGULARITY_TMPDIR || env.TMPDIR || tmpdir()
}

/** `cati/casa-dev:ubuntu-18.04` -> `cati_casa-dev_ubuntu-18.04.sif` */
export function sifFileName(reference: string, extension: string): string {
  return `${reference.replace(/[/:]/g, '_')}${extension}`
}

export interface ConvertRequest {
  /** `namespace/name:tag` */
  reference: string
  image: ImageInfo
  output: string
  compressor: Compressor
  tmpDir?: string
  onProgress?: (detail: string) => void
  signal?: AbortSignal
  /**
   * sign=1: sign the SIF before it is assembled. Called with a sparse stand-in of the file
   * (its head, the partition a hole) and the partition's sha256; signs the stand-in in place
   * (lib/sif/sifSignature.ts, not durable: it is a temporary file). The signed head and the
   * signature then go into the real file while the partition is still in the page cache, so
   * the signed file's md5 costs no second read of the disk.
   */
  sign?: (standIn: string, partitionSha256: Buffer) => Promise<void>
}

export interface ConvertResult {
  output: string
  md5: string
  size: number
  /** Whether the squashfs went straight into the output file (no temporary copy). */
  inPlace: boolean
  dropped: string[]
}

const insertRangeSupport = new Map<string, Promise<boolean>>()

/** Can `dir` insert a range at the head of a file (ext4, xfs)? Probed once per directory. */
export function supportsInsertRange(dir: string): Promise<boolean> {
  let known = insertRangeSupport.get(dir)
  if (!known) {
    known = (async () => {
      const probe = join(dir, `.casa-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
      const unregister = onInterrupt(() => rm(probe, { force: true }))
      try {
        await writeFile(probe, Buffer.alloc(8192))
        const result = await run('fallocate', ['--insert-range', '--offset', '0', '--length', '4096', probe], { allowFailure: true })
        return result.exitCode === 0 && (await stat(probe)).size === 12288
      } catch {
        return false
      } finally {
        await rm(probe, { force: true })
        unregister()
      }
    })()
    insertRangeSupport.set(dir, known)
  }
  return known
}

/** A full disk, said as one line naming the directory. */
function diskFull(dir: string): UserError {
  return new UserError(`no space left on device in ${dir}: free some space (or set TMPDIR/APPTAINER_TMPDIR for temporary files) and run again`)
}
/**
 * Any other file-system error writing in a directory, as one line like diskFull: a read-only
 * output directory or a missing TMPDIR is bad input, not our bug. Undefined if not one.
 */
function cannotWrite(error: unknown, outDir: string, tmpDir: string): UserError | undefined {
  const { code, path } = (error ?? {}) as NodeJS.ErrnoException
  const reasons: Record<string, string> = {
    EROFS: 'it is on a read-only file system',
    ENOENT: 'no such directory',
    ENOTDIR: 'not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EDQUOT: 'disk quota exceeded',
  }
  if (!code || !path || !reasons[code]) return undefined
  const dir = dirname(path)
  if (dir !== outDir && dir !== tmpDir) return undefined // not one of our directories: a real surprise
  const hint = dir === tmpDir ? ' (set TMPDIR or APPTAINER_TMPDIR to a writable directory)' : ''
  return new UserError(`cannot write in ${dir}: ${reasons[code]}${hint}`)
}

/** Create and remove a file in `dir`: fails as the conversion would, but before any work. */
async function checkWritable(dir: string): Promise<void> {
  const probe = join(dir, `.casa-write-${process.pid}-${randomBytes(4).toString('hex')}`)
  await writeFile(probe, '', { flag: 'wx' })
  await rm(probe, { force: true })
}

const isNoSpace = (text: string) => /ENOSPC|No space left on device/i.test(text)

export { sifLabels } from './sifMetadata.js'

/** Write a small text file atomically next to its final name. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    await writeFile(temp, text)
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true })
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw diskFull(dirname(path))
    throw error
  }
}

export async function convertImage(request: ConvertRequest): Promise<ConvertResult> {
  // Said before any work: the final rename would fail on it only after the whole conversion.
  const existing = await stat(request.output).catch(() => undefined)
  if (existing && !existing.isFile()) {
    throw new UserError(printable(`${request.output} is ${existing.isDirectory() ? 'a directory' : 'not a regular file'}, not a SIF file: remove it or move it away`))
  }
  const outDir = dirname(request.output)
  const tmpDir = request.tmpDir ?? temporaryDirectory()
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`
  // the names of the patterns lib/singularity/convertLeftovers.ts removes after a SIGKILL
  const tempSif = join(outDir, `.${basename(request.output)}.tmp-${tag}`)
  removeKilledConversionFiles(request.output, tmpDir)
  // Probed while the container is created (both take a tenth of a second); no file is
  // written before both are done.
  const probe = supportsInsertRange(outDir)
  let container: string | undefined
  let removal: Promise<void> | undefined
  // Once, from whichever path comes first: done as soon as the export is over, not at the end.
  const remove = () => (container ? (removal ??= removeContainer(container)) : Promise.resolve())
  let inPlace = false
  let squashfsPath = join(tmpDir, `casa-sif-${tag}.squashfs`)
  const standInPath = join(tmpDir, `casa-sif-${tag}.head`)
  let squashfsDir = tmpDir
  const children: { stop(): void }[] = []

  // Called by the interrupt handler and by the error path, possibly both at once: one run.
  let cleaning: Promise<void> | undefined
  const cleanup = () => (cleaning ??= removeAll())
  const removeAll = async () => {
    for (const child of children) child.stop()
    await rm(tempSif, { force: true })
    await rm(squashfsPath, { force: true })
    await rm(standInPath, { force: true })
    await remove()
  }
  const unregister = onInterrupt(cleanup)
  try {
    // Which builder (tar2sqfs, else mksquashfs 4.6+), whether the output directory can insert
    // a range, and the container: found out at once (each takes a tenth of a second). A
    // missing builder is said first; a container already made is removed by the cleanup.
    // The export containers of killed runs go meanwhile: no failure of this conversion.
    const killedContainers = removeKilledExportContainers().catch((error: unknown) => ui.warn(`${errorMessage(error)}: export containers of killed runs not looked for`))
    const [builderFound, created, insertRange, outWritable] = await Promise.allSettled([squashfsBuilder(), createContainer(request.reference, '/.casa-distro-export-only', exportLabels()), probe, checkWritable(outDir)])
    await killedContainers
    if (created.status === 'fulfilled') container = created.value
    if (builderFound.status === 'rejected') throw builderFound.reason
    if (outWritable.status === 'rejected') throw outWritable.reason
    if (created.status === 'rejected') throw created.reason
    inPlace = insertRange.status === 'fulfilled' && insertRange.value
    if (inPlace) {
      squashfsPath = tempSif
      squashfsDir = outDir
    } else {
      await checkWritable(tmpDir) // before the export, not after it
    }
    // Held open so that, if tar2sqfs fails and removes its output, the space stays taken
    // until we have asked the file system whether it is full (tar2sqfs only says "I/O error").
    const holder = await open(squashfsPath, 'w')
    // The builder starts while the engine prepares the export (mounting the image's layers).
    const builder = await startSquashfs(squashfsPath, request.compressor)
    children.push({ stop: () => builder.kill('SIGKILL') })
    const exporter = await exportContainer(container!)
    children.push(exporter)
    // The image's own entries where the export shows docker's init layer: from the engine's
    // layer directories when we can read them (a few lstat calls), else from docker save
    // (which on Docker 20.10 copies the whole image on the engine's disk first).
    const viaSave = async () => {
      const save = await saveImage(request.image.Id)
      children.push(save)
      const [entries, failure] = await Promise.all([imageEntriesAt(save.stream), save.done])
      if (failure) throw new Error(`docker save of ${request.reference} failed: ${failure}`)
      return entries
    }
    const restored = entriesFromLayerDirectories(request.image.GraphDriver, initLayerPaths).then((entries) => entries ?? viaSave())
    restored.catch(() => undefined) // said through the rootfs stream
    let builderErr = ''
    builder.stderr!.on('data', (c) => (builderErr += c))
    builder.stdout!.resume()
    const builderDone = new Promise<number>((resolve) => {
      if (builder.exitCode !== null) resolve(builder.exitCode)
      else builder.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })

    const time = imageTime(request.image)
    const deffile = definitionFile(request.reference, request.image)
    const archOf = (binaryArch: string | undefined) => binaryArch ?? request.image.Architecture
    const rootfs = new RootfsStream(
      {
        reference: request.reference,
        env: request.image.Config.Env ?? [],
        entrypoint: request.image.Config.Entrypoint ?? [],
        cmd: request.image.Config.Cmd ?? [],
        labels: sifLabels(request.reference, request.image, request.image.Architecture),
        deffile,
      },
      { mtime: time, initLayer: initLayerPaths, restored, labels: (binaryArch) => sifLabels(request.reference, request.image, archOf(binaryArch)) },
    )
    const approx = request.image.Size
    // In place, the squashfs is the SIF: insert-range (headInFront) must first write all of
    // it to disk, which took 0.7 s for 160 MB at the end of a conversion whose disk had been
    // idle (the bare pipe leaves its output in the page cache). Written back while the
    // builder writes it, one fdatasync at a time, little is left for the end.
    let writingBack: Promise<void> | undefined
    const writeBack = () => {
      writingBack ??= holder
        .datasync()
        .catch(() => undefined) // a failing disk is said by the writes and headInFront's own datasync
        .finally(() => (writingBack = undefined))
    }
    const ticker = setInterval(() => {
      const mb = (n: number) => `${Math.round(n / 1e6)} MB`
      request.onProgress?.(`${mb(rootfs.progress.bytesIn)} of ~${mb(approx)} exported, ${rootfs.progress.entries} entries`)
      if (inPlace) writeBack()
    }, 500)
    let streamError: unknown
    try {
      await pipeline(exporter.stream, rootfs, builder.stdin!, { signal: request.signal })
    } catch (error) {
      streamError = error
      builder.kill('SIGKILL')
      exporter.stop()
    } finally {
      clearInterval(ticker)
    }
    const [exportFailure, builderCode] = await Promise.all([exporter.done, builderDone])
    void remove() // the container has given all it had; removed while the SIF is assembled
    const full = builderCode !== 0 && (isNoSpace(builderErr) || (await nearlyFull(squashfsDir)))
    await writingBack
    await holder.close()
    if (request.signal?.aborted) throw new UserError(`conversion of ${request.reference} interrupted`)
    if (full) throw diskFull(squashfsDir)
    if (exportFailure) throw new UserError(`docker export of ${request.reference} failed: ${exportFailure}`)
    if (builderCode !== 0) throw new UserError(`building the squashfs of ${request.reference} failed: ${lastLines(builderErr, 1) || `exit ${builderCode}`}`)
    if (streamError) throw new UserError(`converting ${request.reference}: ${errorMessage(streamError)}`)

    // The squashfs is complete: check it, then put the SIF head in front of it.
    const partitionSize = (await stat(squashfsPath)).size
    const superblock = Buffer.alloc(96)
    const sq = await open(squashfsPath, 'r')
    await sq.read(superblock, 0, 96, 0).finally(() => sq.close())
    const used = squashfsBytesUsed(superblock)
    if (used === undefined || used > partitionSize) throw new UserError(`the squashfs built for ${request.reference} is damaged`)
    // The objects of Apptainer's assembler, in its order: Def.FILE, the JSON objects by name, the partition.
    const arch = archOf(rootfs.binaryArch())
    const labels = sifLabels(request.reference, request.image, arch)
    const env = (name: string) => [`/.singularity.d/env/${name}`, rootfs.generated(`.singularity.d/env/${name}`) ?? '']
    const metadata = inspectMetadata({
      labels,
      environment: Object.fromEntries([env('10-docker2singularity.sh'), env('90-environment.sh')]),
      runscript: rootfs.generated('.singularity.d/runscript') ?? '',
      startscript: rootfs.generated('.singularity.d/startscript') ?? '',
      deffile,
    })
    const objects = [
      { type: dataTypes.deffile, name: '', data: Buffer.from(deffile) },
      { type: dataTypes.genericJson, name: 'inspect-metadata.json', data: Buffer.from(JSON.stringify(metadata)) },
      { type: dataTypes.genericJson, name: 'oci-config.json', data: Buffer.from(JSON.stringify(ociConfig(request.image))) },
    ]
    const plan = planSif({ objects, partitionSize, arch, time, id: sifUuid(request.image.Id, request.compressor) })
    request.onProgress?.('writing the SIF file')
    const signed = request.sign ? await signedHead(squashfsPath, plan, standInPath, request.sign) : { head: plan.head, tail: Buffer.alloc(0), objects: objects.length + 1 }
    const md5 = inPlace ? await headInFront(tempSif, signed, outDir) : await headThenCopy(tempSif, squashfsPath, signed, outDir)
    if (!inPlace) await rm(squashfsPath, { force: true })

    await checkWritten(tempSif, plan, signed)
    // Executable, as Apptainer's files are: `./image.sif` runs through the launch line.
    await chmod(tempSif, 0o755)
    // No old .md5/.dockerid may describe the new image while it lands.
    await rm(`${request.output}.md5`, { force: true })
    await rm(`${request.output}.dockerid`, { force: true })
    await rename(tempSif, request.output)
    await writeTextAtomic(`${request.output}.dockerid`, `${request.image.Id}\n`)
    await writeTextAtomic(`${request.output}.md5`, `${md5}\n`)
    return { output: request.output, md5, size: plan.fileSize + signed.tail.length, inPlace, dropped: rootfs.dropped }
  } catch (error) {
    await cleanup()
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw diskFull(outDir)
    throw cannotWrite(error, outDir, tmpDir) ?? error
  } finally {
    await remove()
    unregister()
  }
}

/** Less than 1 MiB free: what a failed write there meant. */
async function nearlyFull(dir: string): Promise<boolean> {
  try {
    const stats = await statfs(dir)
    return stats.bavail * stats.bsize < 1 << 20
  } catch {
    return false
  }
}

/** What goes around the partition: the head (header, descriptors, small objects) and, signed, the signature behind it. */
interface Assembly {
  head: Buffer
  tail: Buffer
  /** The descriptors the file has. */
  objects: number
}

/**
 * sign=1: the partition's sha256 (one pass, from the page cache), then the head and the
 * signature the signer writes into a sparse stand-in of the file: the head as planned, the
 * partition a hole. The stand-in is removed; only its head and tail are kept.
 */
async function signedHead(partition: string, plan: SifPlan, standIn: string, sign: NonNullable<ConvertRequest['sign']>): Promise<Assembly> {
  const sha256 = createHash('sha256')
  for await (const chunk of createReadStream(partition, { highWaterMark: 1 << 20 })) sha256.update(chunk as Buffer)
  try {
    const handle = await open(standIn, 'wx')
    try {
      await handle.write(plan.head, 0, plan.head.length, 0)
      await handle.truncate(plan.fileSize)
    } finally {
      await handle.close()
    }
    await sign(standIn, sha256.digest())
    const signed = await readSif(standIn)
    // Ours always has a free descriptor for the signature: the partition stays where planned.
    if (primaryPartition(signed).offset !== plan.partitionOffset) throw new Error('signing moved the partition of the SIF being assembled')
    const handle2 = await open(standIn, 'r')
    try {
      const head = Buffer.alloc(plan.head.length)
      const tail = Buffer.alloc(signed.fileSize - plan.fileSize)
      await handle2.read(head, 0, head.length, 0)
      await handle2.read(tail, 0, tail.length, plan.fileSize)
      return { head, tail, objects: signed.descriptors.length }
    } finally {
      await handle2.close()
    }
  } finally {
    await rm(standIn, { force: true })
  }
}

/**
 * In-place: hash the head (from memory) and the partition while tar2sqfs's output is still in
 * the page cache, then insert room for the head at offset 0 and write it, and the signature
 * behind the partition when signed. tar2sqfs seeks back (superblock, deduplicated blocks), so
 * its output cannot be hashed as it is written; and ext4's insert-range drops the file's
 * cached pages, so hashing after it reads the disk again.
 */
async function headInFront(file: string, assembly: Assembly, outDir: string): Promise<string> {
  const hash = createHash('md5').update(assembly.head)
  // insert-range writes every dirty page back first: start that write-back now, so the disk
  // works while the md5 is computed from the page cache
  const writeBack = open(file, 'r').then((handle) => handle.datasync().finally(() => handle.close()))
  writeBack.catch(() => undefined) // awaited below
  let partitionSize = 0
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer)
    partitionSize += (chunk as Buffer).length
  }
  hash.update(assembly.tail)
  await writeBack
  const result = await run('fallocate', ['--insert-range', '--offset', '0', '--length', String(assembly.head.length), file], { allowFailure: true })
  if (result.exitCode !== 0) {
    if (isNoSpace(result.stderr)) throw diskFull(outDir)
    throw new UserError(`fallocate --insert-range failed on ${file}: ${lastLines(result.stderr, 1)}`)
  }
  const handle = await open(file, 'r+')
  try {
    await handle.write(assembly.head, 0, assembly.head.length, 0)
    if (assembly.tail.length) await handle.write(assembly.tail, 0, assembly.tail.length, assembly.head.length + partitionSize)
    await handle.datasync()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw diskFull(outDir)
    throw error
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}

/** Copy mode: head, then the squashfs copied behind it, then the signature; the md5 computed while writing. */
async function headThenCopy(file: string, squashfs: string, assembly: Assembly, outDir: string): Promise<string> {
  const hash = createHash('md5').update(assembly.head)
  const out = createWriteStream(file, { flags: 'wx' })
  try {
    await pipeline(
      async function* () {
        yield assembly.head
        for await (const chunk of createReadStream(squashfs, { highWaterMark: 1 << 20 })) {
          hash.update(chunk as Buffer)
          yield chunk as Buffer
        }
        hash.update(assembly.tail)
        if (assembly.tail.length) yield assembly.tail
      },
      out,
    )
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw diskFull(outDir)
    throw error
  }
  return hash.digest('hex')
}

/** Read back what was written: header, descriptors, partition place and size, squashfs magic. */
async function checkWritten(file: string, plan: SifPlan, assembly: Assembly): Promise<void> {
  const sif = await readSif(file)
  const partition = primaryPartition(sif)
  const size = plan.fileSize + assembly.tail.length
  const ok =
    sif.fileSize === size &&
    sif.descriptors.length === assembly.objects &&
    partition.offset === plan.partitionOffset &&
    partition.size === plan.partitionSize &&
    sif.header.dataOffset + sif.header.dataSize === size
  const superblock = Buffer.alloc(96)
  const handle = await open(file, 'r')
  await handle.read(superblock, 0, 96, partition.offset).finally(() => handle.close())
  if (!ok || squashfsBytesUsed(superblock) === undefined) throw new UserError(`${file}: the SIF file read back does not match what was written`)
}
