// Loading a casa.config.ts without a TypeScript toolchain at run time, as vite loads
// vite.config.ts: esbuild bundles the file (and what it imports) into one ES module, with
// `casa-distro-admin` resolved to this very package, so a config works in a workflow
// repository that has no node_modules of its own. The bundle is cached (lib/config/configCache.ts).
// A site's task files (lib/cli/taskRegistry.ts) are loaded the same way.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { inspect } from 'node:util'
import { join, resolve } from 'node:path'
import { readCachedBundle, writeCachedBundle, type CacheEntry } from './configCache.js'
import { mayUseTls, trustDeferredCaCertificates } from '../util/deferredCa.js'
import { UserError } from '../util/errors.js'
import { packageRoot, selfModule } from '../util/paths.js'

/** A config node imports as it is: no bundle, so no cache entry either. */
export const isJavaScriptConfig = (file: string): boolean => /\.(mjs|js)$/.test(file)

/** `cached`: the file's cache entry as the caller already read it (undefined inside: none fresh). */
export async function loadConfigModule(file: string, cached?: { entry: CacheEntry | undefined }): Promise<{ default?: unknown }> {
  if (isJavaScriptConfig(file)) {
    trustDeferredCaCertificates() // what a plain JavaScript config imports is not read here
    try {
      return await import(pathToFileURL(file).href)
    } catch (error) {
      throw new UserError(`${file}${(await lineOf(file, error)) ?? ''}: ${firstLine(error)}`)
    }
  }
  return (await loadBundledModule(file, cached)) ?? loadWithoutEsbuild(file)
}

/**
 * A TypeScript module outside the package (a casa.config.ts, a site's task file) bundled with
 * what it imports, `casa-distro-admin` being this installed tool, then imported; undefined
 * where esbuild is absent. What fails is one line naming the file (and line) and the reason.
 */
export async function loadBundledModule(file: string, cached?: { entry: CacheEntry | undefined }): Promise<Record<string, unknown> | undefined> {
  const code = (cached ? cached.entry?.code : readCachedBundle(file, packageRoot)) ?? (await bundleConfig(file))
  if (code === undefined) return undefined
  if (mayUseTls(code)) trustDeferredCaCertificates() // the launcher's NODE_EXTRA_CA_CERTS
  try {
    return await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)
  } catch (error) {
    throw new UserError(`${file}: ${firstLine(error)}`)
  }
}

/** The first line of what a config threw: an Error's message, or any other value (`throw 'boom'`). */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : inspect(error, { breakLength: Infinity })
  return message.split('\n')[0] || (error instanceof Error ? error.name : 'an empty error')
}

/**
 * `:line` in a JavaScript config where loading it failed, when it can be known: from the stack
 * of an error it threw, or for a syntax error (whose stack does not say where in an ES module),
 * from esbuild parsing the file again.
 */
async function lineOf(file: string, error: unknown): Promise<string | undefined> {
  const stack = error instanceof Error ? (error.stack ?? '') : ''
  for (const place of [pathToFileURL(file).href, file]) {
    const at = new RegExp(`(?:^|\\s|\\()${place.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(stack)
    if (at) return `:${at[1]}`
  }
  if (!(error instanceof SyntaxError)) return undefined
  try {
    const { transform } = await import('esbuild')
    const { readFile } = await import('node:fs/promises')
    await transform(await readFile(file, 'utf8'), { loader: 'js', format: file.endsWith('.mjs') ? 'esm' : undefined, logLevel: 'silent' })
  } catch (parseError) {
    const line = (parseError as { errors?: { location?: { line: number } }[] }).errors?.[0]?.location?.line
    if (line) return `:${line}`
  }
  return undefined
}

let dependencies: Set<string> | undefined
/** The npm packages this tool depends on, by name. */
function ownDependencies(): Set<string> {
  dependencies ??= new Set(Object.keys(JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).dependencies ?? {}))
  return dependencies
}

/** The config and what it imports as one ES module (cached), or undefined without esbuild. */
async function bundleConfig(file: string): Promise<string | undefined> {
  let build: typeof import('esbuild').build
  try {
    ;({ build } = await import('esbuild'))
  } catch {
    return undefined
  }
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      metafile: true,
      absWorkingDir: process.cwd(),
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
      // Paths computed from import.meta.url in the config stay relative to the config file.
      define: { 'import.meta.url': '__casa_config_url' },
      banner: { js: `const __casa_config_url = ${JSON.stringify(pathToFileURL(file).href)};` },
      plugins: [
        {
          name: 'casa-distro-admin-self',
          setup(b) {
            b.onResolve({ filter: /^casa-distro-admin(\/.*)?$/ }, (args) => ({
              path: pathToFileURL(selfModule(args.path, 'js')).href,
              external: true,
            }))
            // our own dependencies (yaml, zx, ...) too: a copied builtin task imports them
            b.onResolve({ filter: /^(@[\w.-]+\/)?[\w.-]+(\/.*)?$/ }, (args) => {
              const name = /^(@[\w.-]+\/)?[\w.-]+/.exec(args.path)![0]
              return ownDependencies().has(name) ? { path: import.meta.resolve(args.path), external: true } : undefined
            })
          },
        },
      ],
    })
    const code = result.outputFiles[0]!.text
    const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(input))
    writeCachedBundle(file, packageRoot, inputs, code)
    return code
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0]
    if (first) throw new UserError(`${first.location ? `${resolve(first.location.file)}:${first.location.line}` : file}: ${first.text}`)
    throw error
  }
}

/**
 * Where esbuild is absent (the casa-distro zip runs with Node.js alone): a config written in
 * plain JavaScript still loads, its `casa-distro-admin` import given defineConfig.
 */
async function loadWithoutEsbuild(file: string): Promise<{ default?: unknown }> {
  const { readFile } = await import('node:fs/promises')
  trustDeferredCaCertificates()
  const shim = `data:text/javascript,${encodeURIComponent('export const defineConfig = (c) => c; export default { defineConfig }')}`
  const source = (await readFile(file, 'utf8')).replace(/((?:from|import)\s*)(['"])casa-distro-admin(?:\/[\w/]*)?\2/g, `$1'${shim}'`)
  try {
    return await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)
  } catch (error) {
    throw new UserError(`${file}: cannot load it without esbuild (${firstLine(error)}): write it in plain JavaScript, or install casa-distro-admin with npm`)
  }
}
