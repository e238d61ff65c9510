// Loading a casa.config.ts without a TypeScript toolchain at run time, as vite loads
// vite.config.ts: esbuild bundles the file (and what it imports) into one ES module, with
// `casa-distro-admin` resolved to this very package, so a config works in a workflow
// repository that has no node_modules of its own.
import { pathToFileURL } from 'node:url'
import { join, resolve } from 'node:path'
import { UserError } from './errors.js'
import { packageRoot } from './paths.js'

export async function loadConfigModule(file: string): Promise<{ default?: unknown }> {
  if (/\.(mjs|js)$/.test(file)) return import(pathToFileURL(file).href)
  const { build } = await import('esbuild')
  const selfUrl = (subpath: string) => pathToFileURL(join(packageRoot, 'dist', 'lib', `${subpath || 'index'}.js`)).href
  let code: string
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
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
              path: selfUrl(args.path.replace(/^casa-distro-admin\/?/, '')),
              external: true,
            }))
          },
        },
      ],
    })
    code = result.outputFiles[0]!.text
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0]
    if (first) throw new UserError(`${first.location ? `${resolve(first.location.file)}:${first.location.line}` : file}: ${first.text}`)
    throw error
  }
  try {
    return await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)
  } catch (error) {
    throw new UserError(`${file}: ${(error as Error).message.split('\n')[0]}`)
  }
}
