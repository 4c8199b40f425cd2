// `hearth user keygen|show`: the key pair a cloud user signs slice requests
// with. The private half is PKCS#8 PEM in a 0600 file (default
// ~/.config/hearth/user_ed25519, or $HEARTH_USER_KEY), the public half an
// OpenSSH line beside it (.pub). An existing ssh-ed25519 key works too:
// `hearth user show --key ~/.ssh/id_ed25519`.
// Must never: overwrite a key without --force, or print the private key.

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { HearthError } from '../model/errors.js';
import { parseUserPrivateKey, parseUserPublicKey, userKeyOf, type UserPublicKey } from '../cloud/user-key.js';
import { pathExists } from '../kit/exists.js';

export function defaultUserKeyPath(): string {
  return process.env['HEARTH_USER_KEY'] ?? join(homedir(), '.config', 'hearth', 'user_ed25519');
}

export interface UserKeyInfo {
  id: string;
  publicKey: string;
  comment: string;
  file: string;
}

function info(key: UserPublicKey, file: string): UserKeyInfo {
  return { id: key.id, publicKey: key.comment === '' ? key.ssh : `${key.ssh} ${key.comment}`, comment: key.comment, file };
}

/** Makes a new key pair at `file` (and `file`.pub); refuses to replace one unless `force`. */
export async function keygen(file: string, comment: string, force: boolean): Promise<UserKeyInfo> {
  if (!force && (await pathExists(file))) throw new HearthError('file_exists', `${file} already holds a key; use --force to replace it, or --out for another file`, { file });
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = userKeyOf(privateKey, comment);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  const shown = info(key, file);
  await writeFileAtomic(`${file}.pub`, `${shown.publicKey}\n`, { mode: 0o644 });
  return shown;
}

/** The user of a key file: a private key (PKCS#8 or OpenSSH), or a public key line. */
/** A key file's text, or not_found saying how to make one. */
export async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new HearthError('not_found', `no key at ${file}; make one with "hearth user keygen", or name one with --key`, { file });
  }
}

export async function showKey(file: string): Promise<UserKeyInfo> {
  const text = await readKeyFile(file);
  const key = text.trimStart().startsWith('ssh-') ? parseUserPublicKey(text) : parseUserPrivateKey(text).publicKey;
  if (key.comment === '') {
    // keygen keeps the comment in the .pub beside the private key.
    const pub = await readFile(`${file}.pub`, 'utf8').then((t) => parseUserPublicKey(t), () => undefined);
    if (pub?.id === key.id) return info(pub, file);
  }
  return info(key, file);
}

export function registerUserCommands(program: Command, emit: (cmd: Command, value: unknown, human: () => void) => void): void {
  const user = program.command('user').description('your user key: slices are requested and changed by documents signed with it');
  user.command('keygen')
    .description('make an Ed25519 key pair for signing slice requests')
    .option('--out <file>', 'where to put the private key (the public key goes to <file>.pub)')
    .option('--comment <text>', 'a note kept with the public key, e.g. you@your-home', '')
    .option('--force', 'replace an existing key')
    .option('--json', 'machine-readable output')
    .action(async (o: { out?: string; comment: string; force?: boolean }, cmd: Command) => {
      const made = await keygen(o.out ?? defaultUserKeyPath(), o.comment, o.force === true);
      emit(cmd, made, () => {
        console.log(`user key written to ${made.file} (public key in ${made.file}.pub)`);
        console.log(`your id: ${made.id}`);
        console.log(made.publicKey);
      });
    });
  user.command('show')
    .description('your user id and public key')
    .option('--key <file>', 'a private key (hearth or OpenSSH ed25519) or a public key line')
    .option('--json', 'machine-readable output')
    .action(async (o: { key?: string }, cmd: Command) => {
      const shown = await showKey(o.key ?? defaultUserKeyPath());
      emit(cmd, shown, () => {
        console.log(`id: ${shown.id}`);
        console.log(`public key: ${shown.publicKey}`);
        console.log(`file: ${shown.file}`);
      });
    });
}
