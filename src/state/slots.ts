/**
 * The on-disk format of a tenant's state file: two fixed-size slots written in turn, in place,
 * as LMDB and bbolt keep their two meta pages.
 *
 * Each slot is one JSON line, `{"v":2,"slot":0,"seq":7,"state":{…},"crc":…}`, padded with
 * spaces to the slot size (a multiple of 4 KiB) and ended by a newline; the file is the two
 * slots, so `jq . t.json` shows both records. `crc` is the CRC-32 of every byte of the line
 * before its digits: the version, the slot, the sequence number and the state. The record with
 * the higher `seq` among the valid ones is the tenant's state; a commit overwrites the other
 * slot (see file-store.ts for how it becomes durable). A write torn by a crash can only damage
 * the slot being written, whose commit never returned, so the other slot still holds the last
 * committed state.
 *
 * Version 1 records (`{"slot":0,"seq":7,"crc":…,"state":{…}}`, drproxy before this format)
 * are still read; their `crc` covers the state only, so a damaged `seq` went unseen (a flipped
 * bit made the older slot look newer). What still guards them: a slot number that does not
 * match the slot's position is refused, the two valid records of a file must be consecutive
 * commits (`readStateFile`), and the state manifest's sequence number for the tenant
 * (manifest.ts) must agree. The next commit writes version 2.
 *
 * A file that is one plain JSON state object (an operator's hand repair, or drproxy before the
 * slots) is read as well; the next commit rewrites it in slots.
 */
import { crc32 } from 'node:zlib';

/** Slot sizes are multiples of this (one page, one filesystem block). */
export const SLOT_UNIT = 4096;

const RECORD_V2 = /^\{"v":2,"slot":([01]),"seq":(\d{1,15}),"state":(.*),"crc":(\d{1,10})\}$/s;
const RECORD_V1 = /^\{"slot":([01]),"seq":(\d{1,15}),"crc":(\d{1,10}),"state":(.*)\}$/s;

/** One slot's content as found on disk. */
export type SlotContent =
  | { status: 'ok'; seq: number; stateText: string; format: 1 | 2 }
  | { status: 'blank' }
  | { status: 'bad'; why: string };

export type DecodedFile =
  | { kind: 'plain'; text: string }
  | { kind: 'slots'; size: number; slots: [SlotContent, SlotContent] }
  | { kind: 'unreadable'; why: string };

/** A record line as decoded: which slot it names, its sequence number, its state's text. */
export interface RecordLine {
  slot: 0 | 1;
  seq: number;
  stateText: string;
  format: 1 | 2;
}

/** The record line of slot `slot` (its padding is added by the writer: atomic-writer.ts). */
export function slotLine(slot: 0 | 1, seq: number, stateText: string): string {
  const head = `{"v":2,"slot":${slot},"seq":${seq},"state":${stateText},"crc":`;
  return `${head}${crc32(head)}}`;
}

/** The smallest slot size that holds this line and its newline. */
export function slotSizeFor(line: string): number {
  return Math.ceil((Buffer.byteLength(line) + 1) / SLOT_UNIT) * SLOT_UNIT;
}

/**
 * A record line (either version), or why it is not one. The slot it names is not checked
 * against a position here: journal lines have none.
 */
export function decodeRecord(text: string): RecordLine | { bad: string } {
  let m = RECORD_V2.exec(text);
  if (m) {
    const head = text.slice(0, text.length - m[4]!.length - 1);
    if (crc32(head) !== Number(m[4])) return { bad: 'checksum mismatch' };
    return { slot: Number(m[1]) as 0 | 1, seq: Number(m[2]), stateText: m[3]!, format: 2 };
  }
  m = RECORD_V1.exec(text);
  if (m) {
    if (crc32(m[4]!) !== Number(m[3])) return { bad: 'checksum mismatch' };
    return { slot: Number(m[1]) as 0 | 1, seq: Number(m[2]), stateText: m[4]!, format: 1 };
  }
  return { bad: 'not a state record' };
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
  if (/^\s*\{"(?:v|slot)":/.test(text)) return { kind: 'unreadable', why: 'both state slots are damaged' };
  return { kind: 'plain', text };
}

function decodeSlot(bytes: Buffer, index: 0 | 1): SlotContent {
  const text = bytes.toString('utf8').trimEnd();
  if (text === '') return { status: 'blank' };
  const r = decodeRecord(text);
  if ('bad' in r) return { status: 'bad', why: r.bad };
  if (r.slot !== index) return { status: 'bad', why: `record of slot ${r.slot} found in slot ${index}` };
  return { status: 'ok', seq: r.seq, stateText: r.stateText, format: r.format };
}

/** One record line as the journal holds it (journal.ts), or undefined when it does not decode. */
export function decodeRecordLine(line: string): RecordLine | undefined {
  const r = decodeRecord(line);
  return 'bad' in r ? undefined : r;
}
