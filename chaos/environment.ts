import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What this machine can do for the faults that need more than signals: a small tmpfs per journal
 * (disk-full needs root and `mount -t tmpfs`) and libfaketime (clock-step; Debian package
 * `faketime`). Probed once per process; a fault whose tool is missing is skipped and reported.
 */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
export const JOURNAL_TMPFS_BYTES = 1024 * 1024;

let tmpfsProbe: string | null | undefined;

/** null when tmpfs mounts work, else why not. */
export function tmpfsUnavailable(): string | null {
  if (tmpfsProbe !== undefined) return tmpfsProbe;
  const dir = mkdtempSync(join(tmpdir(), 'pacer-chaos-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    tmpfsProbe = null;
  } catch (err) {
    tmpfsProbe = `mount -t tmpfs failed (${(err as Error).message.split('\n')[0]}): disk-full needs root`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tmpfsProbe;
}

export function faketimeUnavailable(): string | null {
  return existsSync(LIBFAKETIME) ? null : `${LIBFAKETIME} missing: install the Debian package faketime`;
}

export function mountTmpfs(dir: string, bytes: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
}

/** Unmounts; lazily if something still holds it open (a server killed a moment ago). */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  }
}

/**
 * The environment that puts a server under libfaketime with an offset read from `file` (at most a
 * second old). The monotonic clock stays real: libuv's timers run on it, and stepping it would
 * stall the event loop rather than step the wall clock the server reads.
 */
export function faketimeEnv(file: string): Record<string, string> {
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME_TIMESTAMP_FILE: file,
    FAKETIME_CACHE_DURATION: '1',
    DONT_FAKE_MONOTONIC: '1',
  };
}
