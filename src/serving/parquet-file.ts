/**
 * A minimal Parquet writer for the prediction log: columns already laid out in Parquet's PLAIN encoding by
 * `ColumnBytes`, written uncompressed as one data page per column in one row group. A column is a top-level field or a
 * field of a (required, non-repeated) group, such as `features.tenure`; a nullable one carries a definition level per
 * row. Enough for DuckDB, BigQuery and any Parquet reader; no statistics, no dictionary, no repetition. Format: the
 * Apache Parquet file format (magic `PAR1`, column chunks, Thrift compact-protocol footer).
 */

/** Physical types (parquet.thrift `Type`). */
export const ParquetType = { int32: 1, int64: 2, float: 4, double: 5, byteArray: 6 } as const;

/** What a column's bytes mean beyond their physical type. */
export type ColumnMeaning = 'string' | 'json' | 'timestamp-micros-utc' | undefined;

export interface ParquetColumn {
  /** Its field and the groups above it, outermost first: `['request_id']`, `['features', 'tenure']`. */
  path: string[];
  type: (typeof ParquetType)[keyof typeof ParquetType];
  meaning?: ColumnMeaning;
  /** The values present, in row order: PLAIN-encoded, or with a dictionary, each value's index in it. */
  bytes: Uint8Array;
  /** For a nullable column: one byte per row, 1 where the row has a value and 0 where it is null. */
  defined?: Uint8Array;
  /**
   * A dictionary-encoded column: its distinct values (PLAIN-encoded) and their count; `bytes` then holds each value's
   * index as `indexWidth` bytes, little-endian.
   */
  dictionary?: { bytes: Uint8Array; count: number; indexWidth: 1 | 2 | 4 };
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

  /** A BYTE_ARRAY value of bytes already encoded: 4-byte length, then the bytes. Returns the bytes written. */
  byteArray(bytes: Uint8Array): number {
    this.#room(4 + bytes.length);
    this.#buf.writeInt32LE(bytes.length, this.length);
    this.#buf.set(bytes, this.length + 4);
    this.length += 4 + bytes.length;
    return 4 + bytes.length;
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

/**
 * The whole file: `PAR1`, one page per column, the footer, its length, `PAR1`; assembled in `into` (cleared first, and
 * reusable once the returned view has been written). Columns of one group must be next to each other.
 */
export function parquetFile(columns: ParquetColumn[], rows: number, into = new ColumnBytes()): Buffer {
  const magic = Buffer.from('PAR1');
  into.clear();
  into.append(magic);
  const chunks: ThriftStruct[] = [];
  for (const c of columns) {
    const start = into.length;
    const dictionary = c.dictionary;
    if (dictionary) {
      into.append(encodeStruct(dictionaryPageHeader(dictionary.bytes.length, dictionary.count)));
      into.append(dictionary.bytes);
    }
    const dataStart = into.length;
    const levels = c.defined ? definitionLevels(c.defined, rows) : undefined;
    // A dictionary's indices: their bit width, then one bit-packed run of groups of eight (the last one padded).
    const indices = dictionary ? bitPackedRun(c.bytes, dictionary.indexWidth) : undefined;
    const size =
      (levels ? 4 + levels.length : 0) + (indices ? 1 + indices.header.length + indices.length : c.bytes.length);
    into.append(encodeStruct(pageHeader(size, rows, dictionary ? Encoding.rleDictionary : Encoding.plain)));
    if (levels) {
      into.int32(levels.length);
      into.append(levels);
    }
    if (indices) {
      into.append(Buffer.from([dictionary!.indexWidth * 8, ...indices.header]));
      into.append(c.bytes);
      into.append(Buffer.alloc(indices.length - c.bytes.length));
    } else into.append(c.bytes);
    chunks.push(columnChunk(c, rows, { start, dataStart, size: into.length - start }));
  }
  const footer = encodeStruct(fileMetaData(columns, rows, chunks, into.length - magic.length));
  into.append(footer);
  into.int32(footer.length);
  into.append(magic);
  return into.bytes;
}

/** The header of one bit-packed run holding `bytes` (values of `width` bytes), and the run's length padded to 8. */
function bitPackedRun(bytes: Uint8Array, width: number): { header: number[]; length: number } {
  const groups = Math.ceil(bytes.length / width / 8);
  const header: number[] = [];
  writeVarint(header, groups * 2 + 1);
  return { header, length: groups * 8 * width };
}

/**
 * Definition levels (bit width 1) in the RLE / bit-packing hybrid: one run when every row is alike, else bit-packed
 * groups of eight, least significant bit first.
 */
function definitionLevels(defined: Uint8Array, rows: number): Buffer {
  const first = defined[0] ?? 0;
  let alike = true;
  for (let i = 1; i < rows && alike; i++) alike = defined[i] === first;
  const out: number[] = [];
  if (alike) {
    writeVarint(out, rows * 2);
    out.push(first);
    return Buffer.from(out);
  }
  const groups = Math.ceil(rows / 8);
  writeVarint(out, groups * 2 + 1);
  const packed = Buffer.alloc(out.length + groups);
  packed.set(out);
  for (let i = 0; i < rows; i++) {
    const at = out.length + (i >> 3);
    if (defined[i]) packed[at] = packed[at]! | (1 << (i & 7));
  }
  return packed;
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

const Encoding = { plain: 0, rle: 3, rleDictionary: 8 };
const pageTypeDictionary = 2;
const pageTypeData = 0;
const codecUncompressed = 0;
const repetitionRequired = 0;
const repetitionOptional = 1;

function pageHeader(size: number, rows: number, encoding: number): ThriftStruct {
  const dataPage: ThriftStruct = [
    [1, { i32: rows }],
    [2, { i32: encoding }],
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

function dictionaryPageHeader(size: number, count: number): ThriftStruct {
  return [
    [1, { i32: pageTypeDictionary }],
    [2, { i32: size }],
    [3, { i32: size }],
    [
      7,
      {
        struct: [
          [1, { i32: count }],
          [2, { i32: Encoding.plain }],
        ],
      },
    ],
  ];
}

function columnChunk(
  c: ParquetColumn,
  rows: number,
  at: { start: number; dataStart: number; size: number },
): ThriftStruct {
  const encodings = c.dictionary
    ? [Encoding.plain, Encoding.rle, Encoding.rleDictionary]
    : [Encoding.plain, Encoding.rle];
  const meta: ThriftStruct = [
    [1, { i32: c.type }],
    [2, { list: 'i32', items: encodings }],
    [3, { list: 'binary', items: c.path }],
    [4, { i32: codecUncompressed }],
    [5, { i64: rows }],
    [6, { i64: at.size }],
    [7, { i64: at.size }],
    [9, { i64: at.dataStart }],
  ];
  if (c.dictionary) meta.push([11, { i64: at.start }]);
  return [
    [2, { i64: at.start }],
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

/** The schema's elements, depth first: the root, then each group before its fields, in the columns' order. */
function schemaElements(columns: ParquetColumn[]): ThriftStruct[] {
  interface Node {
    name: string;
    children: Node[];
    leaf?: ParquetColumn;
  }
  const root: Node = { name: 'schema', children: [] };
  for (const c of columns) {
    let parent = root;
    for (const name of c.path.slice(0, -1)) {
      let group = parent.children.at(-1);
      if (group?.name !== name || group.leaf) {
        group = { name, children: [] };
        parent.children.push(group);
      }
      parent = group;
    }
    parent.children.push({ name: c.path.at(-1)!, children: [], leaf: c });
  }
  const elements: ThriftStruct[] = [];
  const visit = (node: Node, top: boolean) => {
    const c = node.leaf;
    if (!c) {
      const fields: ThriftStruct = top ? [] : [[3, { i32: repetitionRequired }]];
      fields.push([4, { binary: node.name }], [5, { i32: node.children.length }]);
      elements.push(fields);
      for (const child of node.children) visit(child, false);
      return;
    }
    const [converted, logical] = annotation(c.meaning);
    const fields: ThriftStruct = [
      [1, { i32: c.type }],
      [3, { i32: c.defined ? repetitionOptional : repetitionRequired }],
      [4, { binary: node.name }],
    ];
    if (converted) fields.push(converted);
    if (logical) fields.push(logical);
    elements.push(fields);
  };
  visit(root, true);
  return elements;
}

function fileMetaData(columns: ParquetColumn[], rows: number, chunks: ThriftStruct[], bytes: number): ThriftStruct {
  const rowGroup: ThriftStruct = [
    [1, { list: 'struct', items: chunks }],
    [2, { i64: bytes }],
    [3, { i64: rows }],
  ];
  return [
    [1, { i32: 1 }],
    [2, { list: 'struct', items: schemaElements(columns) }],
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
