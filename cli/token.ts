import { userInfo } from 'node:os';
import { ReboundError } from '../core/errors.ts';
import { UserNameSchema } from '../core/owner.ts';
import { loadSettings } from '../local/settings.ts';
import { run } from '../relay/exec.ts';
import { homeOf } from '../relay/slurm.ts';
import { signedHeaders } from '../service/signature.ts';
import { request, userTokenFile } from './api.ts';

// `rebound token create|revoke <user>`: the administrator (who holds the webhook secret) asks the service
// for a user's token and puts it where that user's CLI finds it, written by the user's own process so
// that nothing in their home can redirect root's write.

/** A POST signed with the webhook secret (the administrator's credential for tokens). */
function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const s = loadSettings();
  const text = JSON.stringify(body);
  return request(s.url, path, {
    method: 'POST',
    body: text,
    headers: {
      'content-type': 'application/json',
      ...signedHeaders(s.secret, text, { method: 'POST', path }),
    },
  });
}

function checkUserName(user: string): void {
  if (!UserNameSchema.safeParse(user).success)
    throw new ReboundError(`not a user name: ${JSON.stringify(user)}`);
}

/** Makes `user`'s token and writes it, mode 0600, to ~user/.config/rebound/token. Returns the path. */
export async function createToken(user: string, admin: boolean): Promise<string> {
  checkUserName(user);
  const me = userInfo();
  if (me.uid !== 0 && user !== me.username)
    throw new ReboundError(`a token for ${user} is written into their home: run this as root`);
  const { stdout: uid } = await run(['id', '-u', user]).catch(() => {
    throw new ReboundError(`no such user: ${user}`);
  });
  const { token } = await post('/v1/tokens', { user, uid: Number(uid.trim()), admin });
  const home = await homeOf(user);
  const file = userTokenFile(home);
  // As the user (runuser), with the token on standard input: never in an argument vector.
  const write =
    'umask 077 && mkdir -p "$HOME/.config/rebound" && cat > "$HOME/.config/rebound/token.new" && mv -f "$HOME/.config/rebound/token.new" "$HOME/.config/rebound/token"';
  const argv =
    me.uid === 0 ? ['runuser', '-u', user, '--', '/bin/sh', '-c', write] : ['/bin/sh', '-c', write];
  await run(argv, { input: `${String(token)}\n`, cwd: '/', extraEnv: { HOME: home } });
  return file;
}

export async function revokeToken(user: string): Promise<boolean> {
  checkUserName(user);
  const { revoked } = await post(`/v1/tokens/${user}/revoke`, {});
  return revoked === true;
}
