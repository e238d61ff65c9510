// Map over items with at most `limit` promises pending: file-system work on large catalogs
// runs in parallel without running out of file descriptors. Results keep the input order;
// the first failure stops new work and is thrown once the work under way has finished.
// eachLimited is the same for work whose failures must not stop the others, and
// throwCollected ends such a run: one failure as it is, several listed then counted.
import { UserError, errorMessage } from './errors.js'
import { ui } from './ui.js'

export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++
      try {
        results[index] = await work(items[index]!, index)
      } catch (error) {
        failed ??= { error }
      }
    }
  }
  // the first failure stops new work; what is under way finishes before it is thrown
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failed) throw failed.error
  return results
}

/** Run `work` on every item, at most `jobs` at once; a failure does not stop the others: the errors are returned. */
export async function eachLimited<T>(items: readonly T[], jobs: number, work: (item: T) => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = []
  await mapLimited(items, jobs, (item) => work(item).catch((error: unknown) => void errors.push(error)))
  return errors
}

/** Throw what eachLimited collected: a single error as it is; several each on its line, then `summary(count)`. */
export function throwCollected(errors: readonly unknown[], summary: (count: number) => string): void {
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) {
    for (const error of errors) ui.error(errorMessage(error))
    throw new UserError(summary(errors.length))
  }
}
