// lib/util/slots.ts: at most `size` pieces of work at once, the others started in the order
// they asked as slots free up, a failure freeing its slot like a success. Each piece here
// ends when the test settles it, so what runs is known at every point without timing.
import t from 'tap'
import { Slots } from '../lib/util/slots.js'

function controlled() {
  const started: string[] = []
  const settle = new Map<string, { resolve(): void; reject(error: Error): void }>()
  const work = (name: string) => () =>
    new Promise<string>((resolve, reject) => {
      started.push(name)
      settle.set(name, { resolve: () => resolve(name), reject })
    })
  return { started, settle, work }
}

/** Let the promise callbacks run (a slot passed on starts its work in a later microtask). */
const settled = () => new Promise((resolve) => setImmediate(resolve))

t.test('at most size at once, the others in the order they asked', async (t) => {
  const slots = new Slots(2)
  const { started, settle, work } = controlled()
  const runs = ['a', 'b', 'c', 'd'].map((name) => slots.run(work(name)))
  await settled()
  t.same(started, ['a', 'b'], 'two start at once')
  settle.get('b')!.resolve()
  t.equal(await runs[1], 'b', 'a result comes back as work gave it')
  await settled()
  t.same(started, ['a', 'b', 'c'], 'the freed slot goes to the first waiting')
  settle.get('a')!.reject(new Error('a failed'))
  await t.rejects(runs[0]!, /a failed/, 'a failure comes back as it is')
  await settled()
  t.same(started, ['a', 'b', 'c', 'd'], 'and frees its slot too')
  settle.get('c')!.resolve()
  settle.get('d')!.resolve()
  t.same(await Promise.all(runs.slice(2)), ['c', 'd'])
  // all free again: two start at once
  const more = controlled()
  const again = ['e', 'f', 'g'].map((name) => slots.run(more.work(name)))
  await settled()
  t.same(more.started, ['e', 'f'], 'every slot was given back')
  for (const name of ['e', 'f']) more.settle.get(name)!.resolve()
  await settled()
  more.settle.get('g')!.resolve()
  t.same(await Promise.all(again), ['e', 'f', 'g'])
})
