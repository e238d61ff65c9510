// Credentials in URLs (passwords, tokens given as user names) never show: the one rule of
// lib/redact.ts, used by -v echoes, command errors and inspection failures.
import t from 'tap'
import { redact, withoutCredentials } from '../lib/redact.js'

t.test('redact: passwords always, the whole userinfo over http(s), bare user names elsewhere kept', async (t) => {
  const cases: [string, string, string][] = [
    ['https://user:SECRETPW1@host/x.git', 'https://user:***@host/x.git', 'https://host/x.git'],
    ['https://SECRETTOK2@host/y.git', 'https://***@host/y.git', 'https://host/y.git'],
    ['https://x-access-token:SECRETTOK3@host/z.git', 'https://x-access-token:***@host/z.git', 'https://host/z.git'],
    ['HTTP://SECRETTOK@127.0.0.1:9/y.git', 'HTTP://***@127.0.0.1:9/y.git', 'HTTP://127.0.0.1:9/y.git'],
    ['ssh://user:SECRETPW@host/a.git', 'ssh://user:***@host/a.git', 'ssh://user@host/a.git'],
    ['sftp://u:SECRETPW@host/~/www', 'sftp://u:***@host/~/www', 'sftp://u@host/~/www'],
    ['ssh://git@host/a.git', 'ssh://git@host/a.git', 'ssh://git@host/a.git'],
    ['sftp://brainvisa@brainvisa.info/~/prod', 'sftp://brainvisa@brainvisa.info/~/prod', 'sftp://brainvisa@brainvisa.info/~/prod'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['file:///tmp/x.git', 'file:///tmp/x.git', 'file:///tmp/x.git'],
    ['https://github.com/org/a@b', 'https://github.com/org/a@b', 'https://github.com/org/a@b'],
  ]
  for (const [url, masked, stripped] of cases) {
    t.equal(redact(url), masked, `redact ${masked}`)
    t.equal(withoutCredentials(url), stripped, `withoutCredentials ${stripped}`)
  }
  // In text, as git quotes it; a password holding an unencoded @; the password options.
  t.equal(redact(`fatal: unable to access 'https://u:SECRET@PW@h/x.git/': refused`), `fatal: unable to access 'https://u:***@h/x.git/': refused`)
  t.equal(redact('$ git clone --mirror --quiet https://SECRETTOK2@127.0.0.1:9/y.git /tmp/y'), '$ git clone --mirror --quiet https://***@127.0.0.1:9/y.git /tmp/y')
  t.equal(redact('mail admin@example.org, see https://host/x'), 'mail admin@example.org, see https://host/x')
  t.equal(redact('sshpass --password=SECRET x'), 'sshpass --password=*** x')
})
