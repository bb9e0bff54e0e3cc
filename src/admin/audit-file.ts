/**
 * The audit file: one JSON line per record, appended with a synchronous write so that the
 * caller knows, before it acts, whether the record is on disk (a mutation is refused when its
 * record cannot be written). A write cut short by a full disk is cut off again, so the file
 * never holds half a line that the next record would be glued to. The file is (re)opened on
 * demand: a path that cannot be opened at start-up (or later) makes writes fail, it never ends
 * the process. It is opened for reading too, so that the hash chain (src/evidence/) can read its
 * last line and continue from it.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class AuditFile {
  private fd: number | undefined;

  constructor(readonly path: string) {}

  /** Appends `line` completely, or not at all; returns the error when it could not. */
  append(line: string | Buffer): NodeJS.ErrnoException | undefined {
    const buf = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
    let fd: number;
    try {
      fd = this.open();
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(fd, buf, done);
      return undefined;
    } catch (err) {
      if (done > 0) this.cutOff(fd, done);
      return err as NodeJS.ErrnoException;
    }
  }

  /** The file's size in bytes (opens it as needed; throws its error). */
  size(): number {
    return fstatSync(this.open()).size;
  }

  /** Reads into `buf` from byte `position`; the number of bytes read (throws its error). */
  readAt(buf: Buffer, position: number): number {
    return readSync(this.open(), buf, 0, buf.length, position);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing to do about it: the records were written synchronously.
    }
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a+', 0o640);
    return this.fd;
  }

  /** Removes the `written` bytes of a record that did not fit (drproxy is the only writer). */
  private cutOff(fd: number, written: number): void {
    try {
      ftruncateSync(fd, fstatSync(fd).size - written);
    } catch {
      // An I/O error here too: reopen next time; the partial line stays (rare, and visible).
      this.close();
    }
  }
}
