import { open } from 'node:fs/promises';

/** Overwrite `text` at `offset` in an existing file (a torn or damaged state slot, by hand). */
export async function overwrite(file: string, offset: number, text: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.write(Buffer.from(text), 0, Buffer.byteLength(text), offset);
  } finally {
    await fh.close();
  }
}
