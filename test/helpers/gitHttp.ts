// A git smart-HTTP server for tests: git's own git-http-backend (as CGI) behind HTTP basic
// authentication, serving the bare repositories under a directory, pushes included. Remotes
// reached as `http://user:password@127.0.0.1:<port>/<name>.git`, as with a forge's token.
import { spawn, execFileSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'

export interface GitHttpServer {
  port: number
  /** `http://<userinfo>@127.0.0.1:<port>/<name>.git` (no userinfo: none in the URL). */
  url(name: string, userinfo?: string): string
  close(): Promise<void>
}

const backend = () => `${execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim()}/git-http-backend`

/** Serve the repositories of `root`; only requests authenticated as `user:password` get in. */
export function serveGitHttp(root: string, user: string, password: string): Promise<GitHttpServer> {
  const program = backend()
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const live = new Set<ReturnType<typeof spawn>>()
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('authentication required\n')
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const cgi = spawn(program, [], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REMOTE_USER: user, // enables receive-pack (pushes)
        REMOTE_ADDR: '127.0.0.1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    live.add(cgi)
    // A client that went away (a cut connection) leaves the CGI waiting for the rest of its
    // request, for ever: it goes with the connection.
    res.on('close', () => {
      if (cgi.exitCode === null && cgi.signalCode === null) cgi.kill('SIGKILL')
    })
    cgi.stdin!.on('error', () => {})
    req.pipe(cgi.stdin!)
    let head = Buffer.alloc(0)
    let headersDone = false
    cgi.stdout!.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk)
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      headersDone = true
      let status = 200
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const colon = line.indexOf(':')
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (/^status$/i.test(name)) status = Number(value.split(' ')[0])
        else res.setHeader(name, value)
      }
      res.writeHead(status)
      res.write(head.subarray(end + 4))
    })
    cgi.on('close', () => {
      live.delete(cgi)
      if (res.destroyed) return
      if (headersDone) res.end()
      else res.writeHead(500).end()
    })
  })
  return new Promise((resolve, reject) => {
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({
        port,
        url: (name, userinfo) => `http://${userinfo ? `${userinfo}@` : ''}127.0.0.1:${port}/${name}.git`,
        close: () =>
          new Promise((done) => {
            for (const cgi of live) cgi.kill('SIGKILL')
            server.close(() => done())
            server.closeAllConnections()
          }),
      })
    })
  })
}
