// publishInTurn with the run's AbortSignal aborted in-process (what Ctrl-C does before its
// handler ends the process): the item under way fails with the interrupt's reason, no later
// item is started, and one line names them. A real file:// hub (which never loses a connection).
import t from 'tap'
import { openHub } from '../lib/hubs/transport.js'
import { publishInTurn } from '../lib/hubs/publishInTurn.js'
import { tempDir } from './helpers/tmp.js'

/** What `work` writes on stderr, the writes still made. */
async function stderrOf(work: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr)
  let seen = ''
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    seen += chunk.toString()
    return write(chunk, ...rest)
  }) as typeof process.stderr.write
  try {
    await work()
  } finally {
    process.stderr.write = write
  }
  return seen
}

t.test('an abort during one item: no later item is started, one line names them', async (t) => {
  const hub = await openHub(`file://${tempDir(t)}`)
  const interrupt = new AbortController()
  const started: string[] = []
  let rejection: unknown
  const seen = await stderrOf(() =>
    publishInTurn(['a/x', 'b/y', 'c/z'], { name: (w) => w, noun: 'build workflows', hub, signal: interrupt.signal }, async (item) => {
      started.push(item)
      if (item === 'b/y') {
        interrupt.abort(new Error('interrupted by SIGINT'))
        throw interrupt.signal.reason
      }
    }).catch((error: unknown) => (rejection = error)),
  )
  t.match(rejection, { message: 'interrupted by SIGINT' }, 'the interrupt, as it is (the task exits 130 on it)')
  t.same(started, ['a/x', 'b/y'])
  t.match(seen, /^error: interrupted during b\/y; 1 of 3 build workflows not tried: c\/z$/m)
})

t.test('aborted between items: the next is not started', async (t) => {
  const hub = await openHub(`file://${tempDir(t)}`)
  const interrupt = new AbortController()
  const started: string[] = []
  const seen = await stderrOf(() =>
    t.rejects(
      publishInTurn(['a/x', 'b/y'], { name: (w) => w, noun: 'build workflows', hub, signal: interrupt.signal }, async (item) => {
        started.push(item)
        interrupt.abort(new Error('interrupted by SIGTERM'))
      }),
      { message: 'interrupted by SIGTERM' },
    ),
  )
  t.same(started, ['a/x'])
  t.match(seen, /^error: interrupted; 1 of 2 build workflows not tried: b\/y$/m)
})
