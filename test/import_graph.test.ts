// lib/ has no import cycles (issue 20): a module graph with cycles loads in an order that
// depends on which module is imported first, and a newcomer cannot read it bottom-up. Every
// static `import ... from './x.js'` and `export ... from` between lib/ modules is an edge;
// type-only imports count too (they are dependencies a reader follows). Dynamic imports are
// left out: they are how a heavy module is loaded on use, after the graph has loaded.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { projectRoot } from './helpers/cli.js'

const lib = join(projectRoot, 'lib')

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

function edges(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gm)) {
    found.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
  }
  return found
}

t.test('lib/ has no import cycle', async (t) => {
  const files = modules(lib)
  t.ok(files.length > 50, `${files.length} modules read`)
  const graph = new Map(files.map((f) => [f, edges(f).filter((to) => to.startsWith(lib))]))
  const state = new Map<string, 'open' | 'done'>()
  const cycles: string[] = []
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(lib, f)).join(' -> '))
      return
    }
    state.set(file, 'open')
    for (const to of graph.get(file) ?? []) visit(to, [...path, file])
    state.set(file, 'done')
  }
  for (const file of files) visit(file, [])
  t.same(cycles, [], 'no cycle')
})
