// A fixed number of slots shared by concurrent work: at most `size` pieces of work hold one at
// once, the others wait in the order they asked. Used where a server refuses more than so
// many at once (the sessions of one shared SSH connection, lib/git/sshSharing).
export class Slots {
  private used = 0
  private readonly waiting: (() => void)[] = []

  constructor(readonly size: number) {}

  /** Run `work` in a slot, waiting for one to be free. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used < this.size) this.used++
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    try {
      return await work()
    } finally {
      // the slot passes straight to the next in line, or is freed
      const next = this.waiting.shift()
      if (next) next()
      else this.used--
    }
  }
}
