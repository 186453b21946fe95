/**
 * A minimal ONNX (protobuf) writer for linear models: `features · W + b`, followed by Softmax for classification.
 * Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto).
 */

class ProtoWriter {
  private readonly chunks: Buffer[] = [];

  varint(field: number, value: number): this {
    return this.tag(field, 0).rawVarint(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Buffer): this {
    this.tag(field, 2).rawVarint(value.length);
    this.chunks.push(value);
    return this;
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private tag(field: number, wireType: number): this {
    return this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number): this {
    const out: number[] = [];
    let v = value;
    while (v > 127) {
      out.push((v % 128) | 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
    this.chunks.push(Buffer.from(out));
    return this;
  }
}

const FLOAT = 1;

export interface LinearModelSpec {
  /** `[features × outputs]`, row-major. */
  weights: ArrayLike<number>;
  bias: ArrayLike<number>;
  features: number;
  outputs: number;
  kind: 'classification' | 'regression';
  producerVersion: string;
}

/** Serializes a linear model as an ONNX model with input `features` and output `probabilities` or `prediction`. */
export function linearModelToOnnx(spec: LinearModelSpec): Buffer {
  const output = spec.kind === 'classification' ? 'probabilities' : 'prediction';
  const linearOut = spec.kind === 'classification' ? 'logits' : output;
  return new ProtoWriter()
    .varint(1, 8) // ir_version 8 (onnxruntime reads 3..10)
    .string(2, 'temporal-mlops')
    .string(3, spec.producerVersion)
    .message(7, (graph) => {
      graph.message(1, (node) =>
        node.string(1, 'features').string(1, 'W').string(2, 'xw').string(3, 'matmul').string(4, 'MatMul'),
      );
      graph.message(1, (node) =>
        node.string(1, 'xw').string(1, 'B').string(2, linearOut).string(3, 'add').string(4, 'Add'),
      );
      if (spec.kind === 'classification') {
        graph.message(1, (node) =>
          node.string(1, 'logits').string(2, output).string(3, 'softmax').string(4, 'Softmax'),
        );
      }
      graph.string(2, 'linear');
      graph.message(5, (t) => tensor(t, 'W', [spec.features, spec.outputs], spec.weights));
      graph.message(5, (t) => tensor(t, 'B', [spec.outputs], spec.bias));
      graph.message(11, (v) => valueInfo(v, 'features', ['batch', spec.features]));
      graph.message(12, (v) => valueInfo(v, output, ['batch', spec.outputs]));
    })
    .message(8, (opset) => opset.string(1, '').varint(2, 13))
    .finish();
}

function tensor(w: ProtoWriter, name: string, dims: number[], values: ArrayLike<number>): void {
  for (const d of dims) w.varint(1, d);
  w.varint(2, FLOAT);
  w.string(8, name);
  w.bytes(9, Buffer.from(Float32Array.from(values).buffer));
}

function valueInfo(w: ProtoWriter, name: string, dims: (number | string)[]): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.varint(1, FLOAT);
      tensorType.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
      });
    }),
  );
}
