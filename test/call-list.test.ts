/** The backend's list of calls in flight: add, delete in any order, snapshot, oldest first walk, and no links left behind. */
import { describe, expect, it } from 'vitest';
import { CallList, type Listed } from '../src/proxy/call-list.js';

interface Call extends Listed {
  id: number;
}

const call = (id: number): Call => ({ id, listPrev: null, listNext: null });

describe('call list', () => {
  it('adds, deletes from the head, the middle and the tail, and snapshots what is left', () => {
    const list = new CallList<Call>();
    const calls = [1, 2, 3, 4, 5].map(call);
    for (const c of calls) list.add(c);
    expect(list.size).toBe(5);
    expect(list.toArray().map((c) => c.id)).toEqual([5, 4, 3, 2, 1]);
    expect(list.delete(calls[4]!)).toBe(true); // head
    expect(list.delete(calls[2]!)).toBe(true); // middle
    expect(list.delete(calls[0]!)).toBe(true); // tail
    expect(list.toArray().map((c) => c.id)).toEqual([4, 2]);
    expect(list.size).toBe(2);
  });

  it('a removed call keeps no link, and removing it twice (or a stranger) changes nothing', () => {
    const list = new CallList<Call>();
    const [a, b, c] = [1, 2, 3].map(call);
    list.add(a!);
    list.add(b!);
    list.add(c!);
    expect(list.delete(b!)).toBe(true);
    expect(b).toMatchObject({ listPrev: null, listNext: null });
    expect(list.delete(b!)).toBe(false);
    expect(list.delete(call(9))).toBe(false);
    expect(list.size).toBe(2);
    expect(list.toArray().map((x) => x.id)).toEqual([3, 1]);
  });

  it('a snapshot is not disturbed by deletes made while walking it (a drain re-dispatching)', () => {
    const list = new CallList<Call>();
    for (let i = 0; i < 100; i++) list.add(call(i));
    const seen: number[] = [];
    for (const c of list.toArray()) {
      seen.push(c.id);
      list.delete(c);
    }
    expect(seen).toHaveLength(100);
    expect(list.size).toBe(0);
    expect(list.toArray()).toEqual([]);
  });

  it('knows its oldest call through deletes at either end and in the middle, and walks towards the newest', () => {
    const list = new CallList<Call>();
    expect(list.oldest()).toBeNull();
    const calls = [1, 2, 3, 4].map(call);
    for (const c of calls) list.add(c);
    const walk = () => {
      const ids: number[] = [];
      for (let c = list.oldest(); c !== null; c = list.newer(c)) ids.push(c.id);
      return ids;
    };
    expect(walk()).toEqual([1, 2, 3, 4]);
    list.delete(calls[0]!); // the oldest
    expect(list.oldest()?.id).toBe(2);
    list.delete(calls[2]!); // the middle
    list.delete(calls[3]!); // the newest
    expect(walk()).toEqual([2]);
    list.delete(calls[1]!);
    expect(list.oldest()).toBeNull();
    list.add(calls[3]!);
    expect(walk()).toEqual([4]);
  });
});
