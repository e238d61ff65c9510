// The shape of casa.config.ts, as a schema that both validates a loaded config and gives
// its TypeScript type. Add keys here (and their defaults in ../casa.config.ts) as tasks need them.
import { UserError } from '../util/errors.js'
import { credentialProblem } from '../git/gitCredentials.js'
import { refNameProblem } from '../git/gitRefName.js'
import { parseHubUrl } from '../hubs/hubUrl.js'
import { isHttp, redact } from '../util/redact.js'
import { printable } from '../util/ui.js'
import { array, boolean, integer, object, oneOf, optional, record, refine, SchemaError, string, type Infer, type Schema } from './schema.js'

/** Lower-case path components as Docker accepts them in repository names. */
export const dockerPathPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/

/** A registry as Docker names it: host[:port] (a DNS name, an IPv4 or a bracketed IPv6 address). */
const hostPortPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/** Why `host` is not a registry name, or undefined; never repeats a password put in it. */
function registryProblem(host: string): string | undefined {
  if (host.includes('@')) return `credentials in a registry name are not supported; use docker login ${host.slice(host.lastIndexOf('@') + 1)}`
  if (!hostPortPattern.test(host)) return `expected a registry host[:port] like docker.io or registry.example.org:5000, got ${JSON.stringify(host)}`
  return undefined
}

const registryName: Schema<string> = {
  expected: 'a registry host[:port]',
  check: (value, path) => {
    const host = string().check(value, path)
    const problem = registryProblem(host)
    if (problem) throw new SchemaError(path, `${path}: ${problem}`)
    return host
  },
}

/** `oras://registry[:port]/namespace`, checked as publishing will use it (a pullable, lower-case name). */
function orasProblem(text: string): string | undefined {
  const [, authority = '', rest = ''] = /^oras:\/\/([^/]*)\/?(.*)$/.exec(text) ?? []
  const problem = registryProblem(authority)
  if (problem) return `ORAS hub URL: ${problem}`
  const namespace = rest.replace(/\/+$/, '')
  if (namespace && !dockerPathPattern.test(namespace)) return `ORAS hub URL oras://${authority}/${namespace}: the namespace must be a lower-case docker namespace`
  return undefined
}

/**
 * A hub URL: sftp:// and file:// ones parsed as openHub will parse them, so a mistake is
 * reported when the config loads, with its key.
 */
const url = (schemes: readonly string[]): Schema<string> => {
  const prefixed = refine(string(), `a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`, (v) => schemes.some((s) => v.startsWith(`${s}://`)))
  return {
    expected: prefixed.expected,
    check: (value, path) => {
      const text = prefixed.check(value, path)
      if (text.startsWith('oras://')) {
        const problem = orasProblem(text)
        if (problem) throw new SchemaError(path, `${path}: ${problem}`)
      }
      if (/^(sftp|file):\/\//.test(text)) {
        try {
          parseHubUrl(text)
        } catch (error) {
          if (error instanceof UserError) throw new SchemaError(path, `${path}: ${error.message}`)
          throw error
        }
      }
      return text
    },
  }
}

const dockerHub = object({
  /** Registry host (and port): `docker.io`, `registry.example.org:5000`. */
  registry: registryName,
  /** Repository prefix in that registry: `cati`. */
  namespace: refine(string(), 'a lower-case docker namespace', (v) => dockerPathPattern.test(v)),
})

/** A branch name git accepts (checked here so a bad one never reaches a push half way through a release). */
const branchName: Schema<string> = {
  expected: 'a branch name',
  check: (value, path) => {
    const name = string().check(value, path)
    const problem = refNameProblem(name)
    if (problem) throw new SchemaError(path, `${path}: expected a branch name git accepts, got ${JSON.stringify(name)} (${problem})`)
    return name
  },
}

/** The branches of the three roles when a component does not name them. */
export const defaultBranches = { bugFix: 'master', releaseCandidate: 'release_candidate', latestRelease: 'latest_release' } as const

const releaseComponentFields = object({
  /** Project the component belongs to (groups rows in the plan). */
  project: string(),
  /** Component name, unique in the plan. */
  name: refine(string(), 'a component name (letters, digits, ., _, -)', (v) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)),
  /** git URL of the component's repository (any URL git accepts). */
  url: refine(string(), 'a git URL', (v) => v.length > 0),
  /** Branch where fixes land (the plan's `bug_fix`). */
  bugFix: optional(branchName),
  /** Branch of the release candidate (the plan's `release_candidate`). */
  releaseCandidate: optional(branchName),
  /** Branch of the latest release (the plan's `latest_release`). */
  latestRelease: optional(branchName),
  /**
   * File holding the version, relative to the repository root: forces which one is read
   * (its kind is told by its name: project_info.cmake, *info.py, package.json, pyproject.toml).
   */
  versionFile: optional(string()),
})

/**
 * Why git cannot be given `url` as a repository, or undefined: git reads a word starting with
 * `-` as an option (`--upload-pack=<command>` would even run a command), wherever it stands.
 * Checked when the config and a plan are read, so that no such word ever reaches git.
 */
export function gitUrlProblem(url: string): string | undefined {
  if (url.startsWith('-')) return `a git URL cannot start with "-" (git would read it as an option), got ${JSON.stringify(redact(url))}`
  // The user name and password end where redact() and lib/git/gitCredentials see them end: one
  // holding a space, a quote, < or > as it is would go to git, logs and the plan unmasked.
  const userinfo = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url)
  // eslint-disable-next-line no-control-regex
  if (userinfo && /[\s"<>\u0000-\u001f\u007f]/.test(userinfo[2]!)) {
    return `the user name or password of ${JSON.stringify(printable(`${userinfo[1]}***@${url.slice(userinfo[0].length)}`))} holds a space, a control character, " < or > as it is: percent-encode it (a space is %20, " is %22)`
  }
  // Only http(s) credentials can be handed to git outside its command line (a credential
  // helper, lib/git/gitCredentials); a password in an ssh:// (or git://, file://) URL would go
  // on the argv of git and ssh, which every user of the machine reads in ps.
  if (userinfo && !isHttp(userinfo[1]!.slice(0, -3)) && userinfo[2]!.includes(':')) {
    return `a password in a ${userinfo[1]} URL is not supported (it would go on the command line of git, readable by every user in ps): use a key (ssh-agent, ~/.ssh/config), got ${JSON.stringify(redact(url))}`
  }
  // Percent-encoded, a control character passes the check above but not git's (lib/git/gitCredentials).
  return credentialProblem(url)
}

/** A component whose three roles are on three branches: a release on one branch for two roles would delete it. */
const releaseComponent: Schema<Infer<typeof releaseComponentFields>> = {
  expected: releaseComponentFields.expected,
  check: (value, path) => {
    const c = releaseComponentFields.check(value, path)
    const urlProblem = gitUrlProblem(c.url)
    if (urlProblem) throw new SchemaError(`${path}.url`, `${path}.url: component ${c.project}/${c.name}: ${urlProblem}`)
    const roles = Object.keys(defaultBranches) as (keyof typeof defaultBranches)[]
    for (const [i, role] of roles.entries()) {
      const branch = c[role] ?? defaultBranches[role]
      const other = roles.slice(0, i).find((r) => (c[r] ?? defaultBranches[r]) === branch)
      if (other) throw new SchemaError(`${path}.${role}`, `${path}: ${other} and ${role} are both branch "${branch}": each role needs its own branch`)
    }
    return c
  },
}

/** Components with unique names: a duplicate is named, with both places. */
const uniqueComponents: Schema<Infer<typeof releaseComponent>[]> = {
  expected: 'components with unique names',
  check: (value, path) => {
    const list = array(releaseComponent).check(value, path)
    const first = new Map<string, number>()
    for (const [i, c] of list.entries()) {
      const before = first.get(c.name)
      if (before !== undefined) throw new SchemaError(`${path}[${i}].name`, `${path}[${i}].name: component "${c.name}" is already ${path}[${before}]: names must be unique`)
      first.set(c.name, i)
    }
    return list
  },
}

export const configSchema = object({
  /** The workflow repository. Overridden by --repository and $CASA_DEFAULT_REPOSITORY. */
  repository: optional(string()),
  /** Directories searched for image definitions, first found wins. `{repository}`, `{builtin}` and `~` are expanded. */
  imageSearchPath: array(string()),
  /**
   * Directories searched for task files (`*.ts` defining a task with defineTask), first found
   * by name wins; `{builtin}/tasks` (the builtin tasks) is searched last when not listed.
   */
  taskSearchPath: array(string()),
  /** Prefix of image names: images are `<namespace>/<name>:<tag>`. */
  namespace: refine(string(), 'a lower-case docker namespace', (v) => dockerPathPattern.test(v)),
  /** Extra template parameters for image definitions (`casa_version` is builtin). */
  templateParameters: record(string()),
  /** How many builds, conversions or uploads run at once. */
  jobs: integer(1, 64),
  docker: object({
    /** Docker engine to use (like DOCKER_HOST); the docker CLI's own setup applies otherwise. */
    host: optional(string()),
    /** A buildx (BuildKit) builder: create_docker runs `docker buildx build --builder NAME --load` instead of `docker build`. */
    builder: optional(string()),
  }),
  hubs: object({
    docker: object({ public: dockerHub, private: optional(dockerHub) }),
    singularity: object({
      upload: url(['sftp', 'file', 'oras']),
      download: optional(url(['http', 'https', 'file'])),
      /** An OCI registry also receiving the images, as `oras://registry/namespace`. */
      oras: optional(url(['oras'])),
    }),
    casaDistro: object({ upload: url(['sftp', 'file']) }),
    buildWorkflows: object({ upload: url(['sftp', 'file']) }),
    releasePlan: object({ upload: url(['sftp', 'file']) }),
  }),
  /** Files uploaded at once by mirrors (publish_build_workflows), over one sftp connection. */
  uploads: integer(1, 64),
  ssh: object({
    /** Private key file; ssh-agent ($SSH_AUTH_SOCK) is used when absent. */
    identityFile: optional(string()),
    /** known_hosts file checked for server host keys (default ~/.ssh/known_hosts). */
    knownHosts: optional(string()),
    /** Run `sha256sum` on sftp servers for checksum=1 instead of downloading; false for sftp-only accounts. */
    remoteCommands: optional(boolean()),
  }),
  singularity: object({
    /** squashfs compressor of the image partition. */
    compressor: oneOf(['gzip', 'zstd', 'xz', 'lz4'] as const),
    /** Image file suffix: `.sif`, or `.simg` for sites whose download scripts expect the old names. */
    extension: oneOf(['.sif', '.simg'] as const),
    /** publish_singularity refuses, before uploading anything, an image whose signatures do not verify against `keyring`. */
    requireSignature: optional(boolean()),
    /** OpenPGP public keys signatures are checked against (default Apptainer's ~/.apptainer/keys/pgp-public). */
    keyring: optional(string()),
  }),
  releasePlan: object({
    /** The git components of release plans; names must be unique. */
    components: uniqueComponents,
    /** How many components are inspected (git fetch + reads) at once. */
    jobs: integer(1, 64),
  }),
})

export type CasaConfig = Infer<typeof configSchema>
export type ReleaseComponent = Infer<typeof releaseComponent>
export type DockerHub = Infer<typeof dockerHub>

type DeepPartial<T> = T extends readonly (infer _)[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T
/** What a casa.config.ts may hold: any part of the config, merged over the defaults. */
export type UserConfig = DeepPartial<CasaConfig>

/** Given to a config written as a function. */
export interface ConfigEnv {
  /** The workflow repository as chosen by --repository / $CASA_DEFAULT_REPOSITORY, if any. */
  repository: string | undefined
  home: string
  /** Directory of the config file being loaded. */
  configDir: string
}
