/**
 * The on-disk format of a tenant's state file: two fixed-size slots written in turn, in place,
 * as LMDB and bbolt keep their two meta pages.
 *
 * Each slot is one JSON line, `{"slot":0,"seq":7,"crc":…,"state":{…}}`, padded with spaces to
 * the slot size (a multiple of 4 KiB) and ended by a newline; the file is the two slots, so
 * `jq . t.json` shows both records. `crc` is the CRC-32 of the `state` text exactly as written;
 * the record with the higher `seq` among the valid ones is the tenant's state. A commit
 * overwrites the other slot and fdatasyncs it: one write and one flush, no journal commit for a
 * rename and a directory (0.12 ms against 0.56 ms for temp file + fsync + rename + directory
 * fsync on this VM's ext4, idle; see bench/RESULTS.md). A write torn by a crash can only damage
 * the slot being written, whose commit never returned, so the other slot still holds the last
 * committed state.
 *
 * A file that is one plain JSON state object (written by drproxy before this format, or by an
 * operator repairing a file by hand) is read as well; the next commit rewrites it in this format.
 */
import { crc32 } from 'node:zlib';

/** Slot sizes are multiples of this (one page, one filesystem block). */
export const SLOT_UNIT = 4096;

const RECORD = /^\{"slot":([01]),"seq":(\d{1,15}),"crc":(\d{1,10}),"state":(.*)\}$/s;

/** One slot's content as found on disk. */
export type SlotContent =
  | { status: 'ok'; seq: number; stateText: string }
  | { status: 'blank' }
  | { status: 'bad'; why: string };

export type DecodedFile =
  | { kind: 'plain'; text: string }
  | { kind: 'slots'; size: number; slots: [SlotContent, SlotContent] }
  | { kind: 'unreadable'; why: string };

/** The record line of slot `slot` (its padding is added by the writer: atomic-writer.ts). */
export function slotLine(slot: 0 | 1, seq: number, stateText: string): string {
  return `{"slot":${slot},"seq":${seq},"crc":${crc32(stateText)},"state":${stateText}}`;
}

/** The smallest slot size that holds this line and its newline. */
export function slotSizeFor(line: string): number {
  return Math.ceil((Buffer.byteLength(line) + 1) / SLOT_UNIT) * SLOT_UNIT;
}

export function decodeFile(data: Buffer): DecodedFile {
  const size = data.length / 2;
  // Slotted: two equal slots of whole units (a damaged slot may have lost its newline too), at
  // least one of them readable; otherwise it may be a plain JSON file of that size.
  if (data.length > 0 && Number.isInteger(size) && size % SLOT_UNIT === 0) {
    const slots: [SlotContent, SlotContent] = [decodeSlot(data.subarray(0, size), 0), decodeSlot(data.subarray(size), 1)];
    if (slots.some((s) => s.status !== 'bad')) return { kind: 'slots', size, slots };
  }
  const text = data.toString('utf8');
  if (text.trimStart().startsWith('{"slot":')) return { kind: 'unreadable', why: 'both state slots are damaged' };
  return { kind: 'plain', text };
}

function decodeSlot(bytes: Buffer, index: 0 | 1): SlotContent {
  const text = bytes.toString('utf8').trimEnd();
  if (text === '') return { status: 'blank' };
  const m = RECORD.exec(text);
  if (!m) return { status: 'bad', why: 'not a state record' };
  if (Number(m[1]) !== index) return { status: 'bad', why: `record of slot ${m[1]} found in slot ${index}` };
  const stateText = m[4]!;
  if (crc32(stateText) !== Number(m[3])) return { status: 'bad', why: 'checksum mismatch' };
  return { status: 'ok', seq: Number(m[2]), stateText };
}

/** One record line as the journal holds it (journal.ts), or undefined when it does not decode. */
export function decodeRecordLine(line: string): { slot: 0 | 1; seq: number; stateText: string } | undefined {
  const m = RECORD.exec(line);
  if (!m) return undefined;
  const stateText = m[4]!;
  if (crc32(stateText) !== Number(m[3])) return undefined;
  return { slot: Number(m[1]) as 0 | 1, seq: Number(m[2]), stateText };
}
