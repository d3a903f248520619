/**
 * The one writer of ONNX graphs, over the compiled ONNX protobuf schema of `onnx-proto` (ONNX
 * 1.10, IR 8): named inputs and outputs, weights as initialisers (raw little-endian bytes, so a
 * 10 MB table is one copy, not an array of JS numbers), and nodes whose outputs are named after
 * the model part that made them, so a graph viewer (Netron) shows the model's own structure.
 * In util/ because two stages write graphs: export/ (trained CTR models) and encoders/ (the
 * MobileNetV2 converted from tfjs).
 */
import pkg from 'onnx-proto';
import { MmctrError } from './errors.js';
import { packageVersion } from './paths.js';

const { onnx } = pkg;

/** The operator set the graph is written for (ReduceSum takes its axes as an input from 13 on). */
export const OPSET = 13;

export type ElementType = 'float32' | 'int64';
/** A dimension: a size, or the name of a dynamic one ('B', 'H'). */
export type Dim = number | string;
type Attribute = number | readonly number[];

const TYPE_CODE: Record<ElementType, number> = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 };

function valueInfo(name: string, type: ElementType, dims: readonly Dim[], docString?: string) {
  return {
    name,
    docString,
    type: { tensorType: { elemType: TYPE_CODE[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: ReturnType<typeof valueInfo>[] = [];
  private readonly outputs: ReturnType<typeof valueInfo>[] = [];
  private readonly names = new Set<string>();
  private readonly scalars = new Map<string, string>();
  private counter = 0;

  /** A unique value name from a readable one. */
  private fresh(name: string): string {
    let out = name;
    while (this.names.has(out)) out = `${name}_${++this.counter}`;
    this.names.add(out);
    return out;
  }

  input(name: string, type: ElementType, dims: readonly Dim[], meaning: string): string {
    if (this.names.has(name)) throw new MmctrError(`ONNX graph input ${name} declared twice (a graph-writer bug)`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims, meaning));
    return name;
  }

  /** Declares `value` as the float32 graph output `name` (through an Identity, so the output keeps its name). */
  output(name: string, value: string, dims: readonly Dim[], meaning: string): void {
    if (this.names.has(name)) throw new MmctrError(`ONNX graph output ${name} declared twice (a graph-writer bug)`);
    this.names.add(name);
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name }));
    this.outputs.push(valueInfo(name, 'float32', dims, meaning));
  }

  /** A float32 weight (copied: the model's arrays stay the model's). */
  float(name: string, data: Float32Array, dims: readonly number[]): string {
    const n = this.fresh(name);
    this.initializers.push(onnx.TensorProto.create({ name: n, dataType: TYPE_CODE.float32, dims: [...dims], rawData: bytesOf(Float32Array.from(data)) }));
    return n;
  }

  int64(name: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const n = this.fresh(name);
    const data = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    this.initializers.push(onnx.TensorProto.create({ name: n, dataType: TYPE_CODE.int64, dims: [...dims], rawData: bytesOf(data) }));
    return n;
  }

  /** A shared float32 scalar constant. */
  scalar(value: number): string {
    const key = `f${value}`;
    let n = this.scalars.get(key);
    if (!n) this.scalars.set(key, (n = this.float(`const_${value}`, Float32Array.of(value), [])));
    return n;
  }

  /** A shared int64 vector constant (axes, shapes, slice bounds). */
  ints(values: readonly number[]): string {
    const key = `i${values.join(',')}`;
    let n = this.scalars.get(key);
    if (!n) this.scalars.set(key, (n = this.int64(`ints_${values.join('_').replace(/-/g, 'm')}`, values, [values.length])));
    return n;
  }

  /** One node with one output named `name` (made unique); integer attributes only (all this graph needs). */
  op(opType: string, inputs: readonly string[], name: string, attributes: Record<string, Attribute> = {}): string {
    const out = this.fresh(name);
    const attribute = Object.entries(attributes).map(([key, v]) =>
      typeof v === 'number'
        ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: v })
        : onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] }),
    );
    this.nodes.push(onnx.NodeProto.create({ opType, input: [...inputs], output: [out], name: out, attribute }));
    return out;
  }

  /** The serialised model. */
  encode(graphName: string, docString: string, metadata: Record<string, string>): Uint8Array {
    const graph = onnx.GraphProto.create({ name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs });
    const model = onnx.ModelProto.create({
      irVersion: onnx.Version.IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'mmctr',
      producerVersion: packageVersion(),
      docString,
      graph,
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
