import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface NonUtf8Line {
  /** Line number, from 1 (a CSV file's header is line 1). */
  line: number;
  /** Where on the line the first byte that is not UTF-8 is, from 1, in characters. */
  column: number;
  /** That byte, as `0xE9`. */
  byte: string;
}

/**
 * The first line of a text file that is not valid UTF-8, read line by line without loading the file (a `.gz` file is
 * read decompressed); undefined when every line is. Splitting at the `\n` byte is safe: no UTF-8 sequence contains it.
 */
export async function firstNonUtf8Line(file: string): Promise<NonUtf8Line | undefined> {
  const raw = createReadStream(file, { highWaterMark: 256 * 1024 });
  const bytes: Readable = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let line = 1;
  let rest = Buffer.alloc(0);
  try {
    for await (const chunk of bytes) {
      let buffer = Buffer.concat([rest, chunk as Buffer]);
      for (let end = buffer.indexOf(0x0a); end >= 0; end = buffer.indexOf(0x0a)) {
        const found = check(buffer.subarray(0, end), line);
        if (found) return found;
        buffer = buffer.subarray(end + 1);
        line++;
      }
      rest = buffer;
    }
  } finally {
    raw.destroy();
  }
  return check(rest, line);
}

function check(text: Buffer, line: number): NonUtf8Line | undefined {
  if (isUtf8(text)) return undefined;
  // Decoding replaces each bad sequence with U+FFFD; the text before the first one is valid, so its byte length is
  // where the bad byte is.
  const decoded = text.toString('utf8');
  const index = Math.max(0, decoded.indexOf('\uFFFD'));
  const at = Buffer.byteLength(decoded.slice(0, index));
  return { line, column: index + 1, byte: `0x${(text[at] ?? 0).toString(16).toUpperCase().padStart(2, '0')}` };
}
