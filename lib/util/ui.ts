// All terminal output goes through here: results on stdout, everything else on stderr.
// On a terminal, long steps show ora spinners; in CI or through a pipe they become plain
// timestamped lines, so logs stay readable. NO_COLOR (https://no-color.org) is respected.
import { formatWithOptions } from 'node:util'
import type { Ora } from 'ora'

export interface UiOptions {
  verbose?: boolean
  /** Force plain lines even on a terminal (tests, `--json`). */
  plain?: boolean
}

const stderr = process.stderr
/** Colour only on a terminal, and never under NO_COLOR or TERM=dumb: decided per stream. */
const useColor = (stream: NodeJS.WriteStream) => !process.env.NO_COLOR && stream.isTTY === true && process.env.TERM !== 'dumb'
/**
 * Spinners need a terminal that has a width: at 0 columns (`stty cols 0`, some serial consoles)
 * every line would wrap forever, and ora's line counting divides by the width.
 */
const interactive = () => stderr.isTTY === true && (stderr.columns ?? 0) > 0 && !process.env.CI && process.env.TERM !== 'dumb'

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const
export type Color = keyof typeof codes
const colored = (color: Color, text: string) => `\x1b[${codes[color]}m${text}\x1b[0m`
/** Colour text that goes to stderr (messages, progress): only when stderr is a terminal. */
export function paint(color: Color, text: string): string {
  return useColor(stderr) ? colored(color, text) : text
}
/** Colour text that goes to stdout (results, help): only when stdout is a terminal, so `> file` and `| cat` get plain text. */
export function paintResult(color: Color, text: string): string {
  return useColor(process.stdout) ? colored(color, text) : text
}

/** Hide credentials in URLs and `--password=...` words: the one rule, in lib/util/redact.ts. */
import { redact } from './redact.js'
export { redact }

/**
 * Quote a command word the way a shell would need it, for `-v` echoes. A word holding control
 * characters is written as bash's $'...' with them escaped: a newline in a file name must not
 * split the echo, nor an escape sequence repaint the terminal.
 */
function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(word)) return `$'${printable(word.replace(/[\\']/g, '\\$&'))}'`
  return `'${word.replace(/'/g, `'\\''`)}'`
}

const clock = () => new Date().toISOString().slice(11, 19)
const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`)

export interface Step {
  /** Replace the step's detail (e.g. bytes done); shown live on a terminal, throttled in plain mode. */
  update(detail: string): void
}

/** How a step that returned normally ended: `failed` for work that carries its own error. */
export interface StepOutcome {
  text: string
  failed: boolean
}

class Ui {
  verbose = false
  plain = false
  private spinner: Ora | undefined
  private readonly active = new Map<number, { title: string; detail: string }>()
  private nextStepId = 0
  private lastPlainUpdate = 0

  configure(options: UiOptions): void {
    if (options.verbose !== undefined) this.verbose = options.verbose
    if (options.plain !== undefined) this.plain = options.plain
  }

  /** A result: what the user asked to see (tables, JSON, plans). Goes to stdout. */
  result(text: string): void {
    // Results go through the one redaction rule too: a URL quoted from the config or a plan
    // never shows its credentials, whichever task printed it.
    const shown = redact(text)
    process.stdout.write(shown.endsWith('\n') ? shown : `${shown}\n`)
  }

  info(...parts: unknown[]): void {
    this.line(formatWithOptions({ colors: false }, ...parts))
  }

  success(message: string): void {
    this.line(`${paint('green', '✔')} ${message}`)
  }

  // Warnings and errors are one line each, whatever names they quote: a control character
  // from a file name (a newline, an escape sequence) is escaped here, once for every caller.
  warn(message: string): void {
    this.line(paint('yellow', `warning: ${printable(message)}`))
  }

  error(message: string): void {
    this.line(paint('red', `error: ${printable(message)}`))
  }

  /** Verbose-only detail. */
  debug(message: string): void {
    if (this.verbose) this.line(paint('gray', message))
  }

  /** Echo an external command before it runs (`-v`). Secrets are never in argv; redact anyway. */
  command(argv: readonly string[], cwd?: string): void {
    if (!this.verbose) return
    const where = cwd ? paint('gray', ` (in ${cwd})`) : ''
    this.line(`${paint('cyan', '$')} ${redact(argv.map(shellWord).join(' '))}${where}`)
  }

  /** Run `work` as a named step: a spinner on a terminal, start/end lines elsewhere. */
  async step<T>(title: string, work: (step: Step) => Promise<T>, doneText?: (value: T) => string | StepOutcome): Promise<T> {
    const id = this.nextStepId++
    const started = Date.now()
    this.active.set(id, { title, detail: '' })
    if (this.fancy()) await this.refreshSpinner()
    else this.line(`${paint('gray', clock())} ${title} ...`)
    const step: Step = {
      update: (detail) => {
        const entry = this.active.get(id)
        if (!entry) return
        entry.detail = detail
        if (this.fancy()) void this.refreshSpinner()
        else if (Date.now() - this.lastPlainUpdate > 5000) {
          this.lastPlainUpdate = Date.now()
          this.line(`${paint('gray', clock())} ${title}: ${detail}`)
        }
      },
    }
    try {
      const value = await work(step)
      const done = doneText ? doneText(value) : title
      const outcome = typeof done === 'string' ? { text: done, failed: false } : done
      const mark = outcome.failed ? paint('red', '✖') : paint('green', '✔')
      this.finishStep(id, `${mark} ${outcome.text} ${paint('gray', seconds(Date.now() - started))}`)
      return value
    } catch (error) {
      this.finishStep(id, `${paint('red', '✖')} ${title} ${paint('gray', seconds(Date.now() - started))}`)
      throw error
    }
  }

  /** Fixed-width columns, for summaries and listings: a result, painted for stdout. */
  table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))))
    const format = (cells: readonly string[]) =>
      cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ').trimEnd()
    return [format(headers.map((h) => paintResult('bold', h))), ...rows.map(format)].join('\n')
  }

  private fancy(): boolean {
    return !this.plain && interactive()
  }

  private finishStep(id: number, text: string): void {
    this.active.delete(id)
    if (this.fancy()) {
      this.spinner?.stop()
      stderr.write(`${text}\n`)
      void this.refreshSpinner()
    } else {
      this.line(`${paint('gray', clock())} ${text}`)
    }
  }

  private async refreshSpinner(): Promise<void> {
    if (this.active.size === 0) {
      this.spinner?.stop()
      return
    }
    const text = [...this.active.values()].map((s) => (s.detail ? `${s.title} ${paint('gray', s.detail)}` : s.title)).join(' | ')
    if (!this.spinner) {
      const { default: ora } = await import('ora')
      this.spinner = ora({ stream: stderr, discardStdin: false, color: useColor(stderr) ? 'cyan' : false })
      // A terminal resized to 0 columns mid-step: stop drawing before ora measures lines
      // against a width of 0 (it would clear lines forever); the steps go on as plain lines.
      stderr.on('resize', () => {
        if (!interactive() && this.spinner?.isSpinning) this.spinner.stop()
      })
    }
    this.spinner.text = redact(text)
    if (!this.spinner.isSpinning) this.spinner.start()
  }

  /**
   * Write one line on stderr, keeping a running spinner below it. Every message, warning,
   * error, step and -v echo passes here, so this is where credentials are masked (a library's
   * error quoting a URL with its password included), once for every caller.
   */
  private line(text: string): void {
    const spinning = this.spinner?.isSpinning
    if (spinning) this.spinner!.clear()
    stderr.write(`${redact(text)}\n`)
    if (spinning) this.spinner!.render()
  }
}

function visibleLength(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length
}

/** The one output channel of the process. */
export const ui = new Ui()

/**
 * `text` with its control characters written as JSON escapes (`\n`, `\t`, `\u001b`): a file
 * name holding a newline must not split a table row or an error line, nor an escape sequence
 * repaint the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\u007f' ? '\\u007f' : JSON.stringify(c).slice(1, -1)))
}
