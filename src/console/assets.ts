/**
 * The operator console's files (GET / and GET /console/<name>), served from the build output
 * of src/console/web/ (dist/console/web/). The directory is read once, at start-up, into an
 * allow-list of name → bytes: a request is answered only when its path, as sent (never
 * decoded, never joined to a directory), is a key of that map, so `..`, `%2e%2e`, `%00`,
 * backslashes and symlinks out of the directory cannot reach any other file. Files of an
 * unknown type (source maps, .d.ts, anything else) are not served.
 *
 * Each answer has a strong ETag (a hash of the bytes) and `cache-control: no-cache`: a browser
 * keeps the files and revalidates them (304), so that a new build is picked up at once.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};
/** A path segment that may be served: no dot first (no `..`, no hidden files), nothing to escape. */
const SAFE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** Files and directory depth read at most: the build output is a handful of files. */
const MAX_FILES = 200;
const MAX_DEPTH = 4;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Where the build puts the page: dist/console/web/ next to this module once compiled
 * (dist/console/assets.js); when this module runs from src/ (vitest), the same dist/ folder.
 * Resolved from the module, never from the working directory.
 */
export function defaultAssetsDir(): string {
  const here = import.meta.url;
  return fileURLToPath(new URL(here.endsWith('.ts') ? '../../dist/console/web/' : './web/', here));
}

export class ConsoleAssets {
  private readonly files = new Map<string, Asset>();

  /** Reads `dir` now; a missing directory leaves the console unserved (404 saying so). */
  constructor(readonly dir: string) {
    this.read(dir, '', 0);
  }

  get names(): string[] {
    return [...this.files.keys()];
  }

  /** The file of this request path's name (`index.html`, `app.js`, `lib/x.js`), if allowed. */
  get(name: string): Asset | undefined {
    return this.files.get(name);
  }

  private read(dir: string, prefix: string, depth: number): void {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const entry of entries) {
      if (this.files.size >= MAX_FILES || !SAFE_SEGMENT.test(entry)) continue;
      const full = join(dir, entry);
      // lstat: a symbolic link (to a file or folder anywhere) is not followed, so not served.
      const st = lstatSync(full, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        if (depth < MAX_DEPTH) this.read(full, `${prefix}${entry}/`, depth + 1);
        continue;
      }
      const type = TYPES[extension(entry)];
      if (!st.isFile() || type === undefined || entry.endsWith('.d.ts') || st.size > MAX_FILE_BYTES) continue;
      const body = readFileSync(full);
      this.files.set(prefix + entry, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  }
}

function extension(name: string): string {
  const i = name.lastIndexOf('.');
  return i <= 0 ? '' : name.slice(i).toLowerCase();
}

/** Whether If-None-Match (a list, or `*`) names this ETag: the browser's copy is current. */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag || v === `W/${etag}`;
  });
}
