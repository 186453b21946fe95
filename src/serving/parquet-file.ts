/**
 * A minimal Parquet writer for the prediction log: required (non-null) columns already laid out in Parquet's PLAIN
 * encoding by `ColumnBytes`, written uncompressed as one data page per column in one row group. Enough for DuckDB,
 * BigQuery and any Parquet reader; no statistics, no dictionary, no nesting. Format: the Apache Parquet file format
 * (magic `PAR1`, column chunks, Thrift compact-protocol footer).
 */

/** Physical types (parquet.thrift `Type`). */
export const ParquetType = { int32: 1, int64: 2, double: 5, byteArray: 6 } as const;

/** What a column's bytes mean beyond their physical type. */
export type ColumnMeaning = 'string' | 'json' | 'timestamp-micros-utc' | undefined;

export interface ParquetColumn {
  name: string;
  type: (typeof ParquetType)[keyof typeof ParquetType];
  meaning?: ColumnMeaning;
  bytes: ColumnBytes;
}

/** A growing byte buffer holding one column's values in PLAIN encoding. */
export class ColumnBytes {
  #buf: Buffer;
  length = 0;

  constructor(initial = 4096) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  get bytes(): Buffer {
    return this.#buf.subarray(0, this.length);
  }

  /** Empties the buffer and keeps its memory for the next batch (fresh large buffers cost page faults and GC). */
  clear(): void {
    this.length = 0;
  }

  /** Appends raw bytes. */
  append(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  int32(v: number): void {
    this.#room(4);
    this.length = this.#buf.writeInt32LE(v, this.length);
  }

  double(v: number): void {
    this.#room(8);
    this.length = this.#buf.writeDoubleLE(v, this.length);
  }

  /** A non-negative integer below 2^53 as INT64. */
  int64(v: number): void {
    this.#room(8);
    this.#buf.writeUInt32LE(v % 4294967296, this.length);
    this.#buf.writeUInt32LE(Math.floor(v / 4294967296), this.length + 4);
    this.length += 8;
  }

  /** A BYTE_ARRAY value: 4-byte length, then the UTF-8 bytes. Returns the bytes written. */
  text(s: string): number {
    this.#room(4 + s.length * 3);
    const n = utf8Write(this.#buf, s, this.length + 4);
    this.#buf.writeInt32LE(n, this.length);
    this.length += 4 + n;
    return 4 + n;
  }

  /** Repeats the last `width` bytes `times` more times (a value shared by a request's rows), in one native fill. */
  repeatLast(width: number, times: number): void {
    if (times <= 0) return;
    const n = width * times;
    this.#room(n);
    this.#buf.fill(this.#buf.subarray(this.length - width, this.length), this.length, this.length + n);
    this.length += n;
  }

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.length + n));
    this.#buf.copy(grown, 0, 0, this.length);
    this.#buf = grown;
  }
}

type Utf8Write = (this: Buffer, s: string, offset: number) => number;
/** Node's own UTF-8 writer behind `Buffer#write`, without its argument parsing; `write` where it is absent. */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;
const utf8Write = (buf: Buffer, s: string, offset: number): number =>
  nativeUtf8Write ? nativeUtf8Write.call(buf, s, offset) : buf.write(s, offset);

/** Reads back the values of a BYTE_ARRAY column. */
export function readTexts(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = bytes.readInt32LE(at);
    out.push(bytes.toString('utf8', at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/**
 * The whole file: `PAR1`, one page per column, the footer, its length, `PAR1`; assembled in `into` (cleared first, and
 * reusable once the returned view has been written).
 */
export function parquetFile(columns: ParquetColumn[], rows: number, into = new ColumnBytes()): Buffer {
  const magic = Buffer.from('PAR1');
  into.clear();
  into.append(magic);
  const chunks: ThriftStruct[] = [];
  for (const c of columns) {
    const data = c.bytes.bytes;
    const header = encodeStruct(pageHeader(data.length, rows));
    chunks.push(columnChunk(c, rows, into.length, header.length + data.length));
    into.append(header);
    into.append(data);
  }
  const footer = encodeStruct(fileMetaData(columns, rows, chunks, into.length - magic.length));
  into.append(footer);
  into.int32(footer.length);
  into.append(magic);
  return into.bytes;
}

// --- parquet.thrift structures, as [field id, value] lists -----------------------------------------------------------

type ThriftValue =
  | { i32: number }
  | { i64: number }
  | { bool: boolean }
  | { binary: string }
  | { struct: ThriftStruct }
  | { list: 'i32' | 'binary' | 'struct'; items: (number | string | ThriftStruct)[] };
type ThriftStruct = [number, ThriftValue][];

const Encoding = { plain: 0, rle: 3 };
const pageTypeData = 0;
const codecUncompressed = 0;
const repetitionRequired = 0;

function pageHeader(size: number, rows: number): ThriftStruct {
  const dataPage: ThriftStruct = [
    [1, { i32: rows }],
    [2, { i32: Encoding.plain }],
    [3, { i32: Encoding.rle }],
    [4, { i32: Encoding.rle }],
  ];
  return [
    [1, { i32: pageTypeData }],
    [2, { i32: size }],
    [3, { i32: size }],
    [5, { struct: dataPage }],
  ];
}

function columnChunk(c: ParquetColumn, rows: number, offset: number, size: number): ThriftStruct {
  const meta: ThriftStruct = [
    [1, { i32: c.type }],
    [2, { list: 'i32', items: [Encoding.plain, Encoding.rle] }],
    [3, { list: 'binary', items: [c.name] }],
    [4, { i32: codecUncompressed }],
    [5, { i64: rows }],
    [6, { i64: size }],
    [7, { i64: size }],
    [9, { i64: offset }],
  ];
  return [
    [2, { i64: offset }],
    [3, { struct: meta }],
  ];
}

/** ConvertedType and LogicalType of a column's meaning (parquet.thrift). */
function annotation(meaning: ColumnMeaning): ThriftStruct {
  switch (meaning) {
    case 'string':
      return [
        [6, { i32: 0 }],
        [10, { struct: [[1, { struct: [] }]] }],
      ];
    case 'json':
      return [
        [6, { i32: 19 }],
        [10, { struct: [[12, { struct: [] }]] }],
      ];
    case 'timestamp-micros-utc': {
      const timestamp: ThriftStruct = [
        [1, { bool: true }],
        [2, { struct: [[2, { struct: [] }]] }],
      ];
      return [
        [6, { i32: 10 }],
        [10, { struct: [[8, { struct: timestamp }]] }],
      ];
    }
    default:
      return [];
  }
}

function fileMetaData(columns: ParquetColumn[], rows: number, chunks: ThriftStruct[], bytes: number): ThriftStruct {
  const root: ThriftStruct = [
    [4, { binary: 'schema' }],
    [5, { i32: columns.length }],
  ];
  const leaves = columns.map((c): ThriftStruct => {
    const [converted, logical] = annotation(c.meaning);
    const fields: ThriftStruct = [
      [1, { i32: c.type }],
      [3, { i32: repetitionRequired }],
      [4, { binary: c.name }],
    ];
    if (converted) fields.push(converted);
    if (logical) fields.push(logical);
    return fields;
  });
  const rowGroup: ThriftStruct = [
    [1, { list: 'struct', items: chunks }],
    [2, { i64: bytes }],
    [3, { i64: rows }],
  ];
  return [
    [1, { i32: 1 }],
    [2, { list: 'struct', items: [root, ...leaves] }],
    [3, { i64: rows }],
    [4, { list: 'struct', items: [rowGroup] }],
    [6, { binary: 'temporal-mlops prediction log' }],
  ];
}

// --- Thrift compact protocol -------------------------------------------------------------------------------------------

const CompactType = { true: 1, false: 2, i32: 5, i64: 6, binary: 8, list: 9, struct: 12 } as const;

function encodeStruct(fields: ThriftStruct): Buffer {
  const out: number[] = [];
  writeStruct(out, fields);
  return Buffer.from(out);
}

function writeStruct(out: number[], fields: ThriftStruct): void {
  let last = 0;
  for (const [id, value] of fields) {
    const type = fieldType(value);
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.push((delta << 4) | type);
    else {
      out.push(type);
      writeVarint(out, zigzag(id));
    }
    last = id;
    writeValue(out, value);
  }
  out.push(0);
}

function fieldType(value: ThriftValue): number {
  if ('bool' in value) return value.bool ? CompactType.true : CompactType.false;
  if ('i32' in value) return CompactType.i32;
  if ('i64' in value) return CompactType.i64;
  if ('binary' in value) return CompactType.binary;
  if ('struct' in value) return CompactType.struct;
  return CompactType.list;
}

function writeValue(out: number[], value: ThriftValue): void {
  if ('bool' in value) return; // carried by the field type
  if ('i32' in value || 'i64' in value) return writeVarint(out, zigzag('i32' in value ? value.i32 : value.i64));
  if ('binary' in value) return writeBinary(out, value.binary);
  if ('struct' in value) return writeStruct(out, value.struct);
  const elementType = CompactType[value.list];
  const n = value.items.length;
  if (n < 15) out.push((n << 4) | elementType);
  else {
    out.push(0xf0 | elementType);
    writeVarint(out, n);
  }
  for (const item of value.items) {
    if (value.list === 'i32') writeVarint(out, zigzag(item as number));
    else if (value.list === 'binary') writeBinary(out, item as string);
    else writeStruct(out, item as ThriftStruct);
  }
}

function writeBinary(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  writeVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Zigzag of an integer below 2^52 in magnitude, as a non-negative number (no 32-bit overflow). */
const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function writeVarint(out: number[], n: number): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}
