import assert from 'node:assert/strict';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';

const json = { 'content-type': 'application/json' };
const predict = '/v1/models/churn:predict';
const v2Infer = '/v2/models/churn/infer';

interface BadRequest {
  title: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url?: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
  status: number;
  code: string;
  /** What the error message must name: the field, the limit or the type. */
  names: RegExp[];
  /** The Allow header a 405 must carry. */
  allow?: string;
}

/** A whole v2 request for riskyCustomer, with `tenure_months` sent as `datatype` and `data`. */
const v2Request = (datatype = 'FP64', data: unknown[] = [riskyCustomer.tenure_months], extra: object = {}) => ({
  ...extra,
  inputs: Object.entries(riskyCustomer).map(([name, value]) =>
    name === 'tenure_months'
      ? { name, datatype, shape: [1], data }
      : {
          name,
          datatype: typeof value === 'string' ? 'BYTES' : typeof value === 'boolean' ? 'BOOL' : 'FP64',
          shape: [1],
          data: [value],
        },
  ),
});
const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const instances = (...rows: unknown[]) => JSON.stringify({ instances: rows });
const v2Binary = (header: object, binary: Buffer, length?: string) => ({
  headers: {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': length ?? String(Buffer.byteLength(JSON.stringify(header))),
  },
  payload: Buffer.concat([Buffer.from(JSON.stringify(header)), binary]),
});

/** Every request a client can get wrong, what it must be answered with, and what the answer must name. */
const table: BadRequest[] = [
  {
    title: 'invalid JSON',
    headers: json,
    payload: '{"instances": [',
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/not valid JSON/],
  },
  {
    title: 'a bare NaN token',
    headers: json,
    payload: '{"instances": [{"tenure_months": NaN}]}',
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/NaN/],
  },
  {
    title: 'trailing text after the document',
    headers: json,
    payload: `${instances(riskyCustomer)} x`,
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/JSON/],
  },
  {
    title: 'an empty body',
    headers: json,
    payload: '',
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/empty/],
  },
  {
    title: 'no content type',
    payload: instances(riskyCustomer),
    status: 415,
    code: 'MLOPS_ERR_SERVE_MEDIA_TYPE',
    names: [/\(none\)/, /application\/json/],
  },
  {
    title: 'a wrong content type',
    headers: { 'content-type': 'text/plain' },
    payload: instances(riskyCustomer),
    status: 415,
    code: 'MLOPS_ERR_SERVE_MEDIA_TYPE',
    names: [/text\/plain/],
  },
  {
    title: 'JSON declared in another charset than UTF-8',
    headers: { 'content-type': 'application/json; charset=ISO-8859-1' },
    payload: Buffer.from(instances({ ...riskyCustomer, region: 'Zürich' }), 'latin1'),
    status: 415,
    code: 'MLOPS_ERR_SERVE_MEDIA_TYPE',
    names: [/charset=ISO-8859-1/, /UTF-8/],
  },
  {
    title: 'a body that is not UTF-8 (Latin-1 bytes sent as JSON)',
    headers: json,
    payload: Buffer.from(instances({ ...riskyCustomer, region: 'Zürich' }), 'latin1'),
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/not UTF-8 text/],
  },
  {
    title: 'v2: JSON declared in UTF-16',
    url: v2Infer,
    headers: { 'content-type': 'application/json; charset="utf-16"' },
    payload: JSON.stringify(v2Request()),
    status: 415,
    code: 'MLOPS_ERR_SERVE_MEDIA_TYPE',
    names: [/utf-16/],
  },
  {
    title: 'a body over the 1.5 MB limit',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], pad: 'x'.repeat(1_600_000) }),
    status: 413,
    code: 'MLOPS_ERR_SERVE_BODY_TOO_LARGE',
    names: [/1500000 bytes/, /MLOPS_SERVE_BODY_LIMIT/],
  },
  {
    title: 'more instances than the limit',
    headers: json,
    payload: instances(...new Array<unknown>(4097).fill({})),
    status: 400,
    code: 'MLOPS_ERR_SERVE_TOO_MANY_INSTANCES',
    names: [/4097 instances/, /limit is 4096/],
  },
  {
    title: 'a feature value nested 10,000 levels deep',
    headers: json,
    payload: `{"instances": [{"tenure_months": ${deep(10_000)}}]}`,
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"tenure_months" must be a finite number or null, got an array/],
  },
  {
    // JSON can carry half of a surrogate pair; logged, its escape would be JSON that the monitoring reader refuses.
    title: 'a category holding half of an emoji',
    headers: json,
    payload: `{"instances": [${JSON.stringify({ ...riskyCustomer, contract: 'x' }).replace('"x"', '"x\\ud83d"')}]}`,
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"contract" is not valid Unicode text: it holds half of a surrogate pair/],
  },
  {
    title: 'an empty object',
    headers: json,
    payload: '{}',
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"instances" must be an array/],
  },
  {
    title: 'a body that is not an object',
    headers: json,
    payload: '[1, 2]',
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/must be an object/],
  },
  {
    title: 'an extra top-level key',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], rows: [] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/unknown top-level field "rows"/],
  },
  {
    title: 'parameters that are a string',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], parameters: 'x' }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"parameters" must be an object such as \{\} \(or left out\), got the string "x"/],
  },
  {
    title: 'parameters that are an array',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], parameters: [1] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"parameters" must be an object such as \{\} \(or left out\), got an array/],
  },
  {
    title: "parameters that are a number, on Vertex AI's path",
    url: '/v1/projects/p/locations/l/endpoints/churn:predict',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], parameters: 7 }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"parameters" must be an object such as \{\} \(or left out\), got 7/],
  },
  {
    title: 'labels that are a string',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], labels: 'eta' }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"labels" must be an object of strings such as \{"team": "risk"\} \(or left out\), got the string "eta"/],
  },
  {
    title: "labels with a value that is not a string, on Vertex AI's path",
    url: '/v1/projects/p/locations/l/endpoints/churn:predict',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], labels: { team: 'risk', run: { a: 1 } } }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"labels" must map names to strings: "run" is an object/],
  },
  {
    title: 'parameters that are a string of 100,000 characters',
    headers: json,
    payload: JSON.stringify({ instances: [riskyCustomer], parameters: 'p'.repeat(100_000) }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"parameters" must be an object such as \{\} \(or left out\), got a string "p{40}"…\nFix/],
  },
  {
    title: 'instances that are not an array and parameters that are not an object',
    headers: json,
    payload: JSON.stringify({ instances: { tenure_months: 1 }, parameters: false }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"instances" must be an array of objects; "parameters" must be an object .*, got a boolean/],
  },
  {
    title: 'no instances',
    headers: json,
    payload: instances(),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"instances" is empty/],
  },
  {
    title: 'an instance that is not an object',
    headers: json,
    payload: instances(riskyCustomer, 7),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/instances\[1\]: must be an object of feature values, got 7/],
  },
  {
    title: 'an empty instance',
    headers: json,
    payload: instances({}),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/instances\[0\]: missing field "tenure_months"/, /instances\[0\]: missing field "region"/],
  },
  {
    title: 'a misspelled field',
    headers: json,
    payload: instances({ ...riskyCustomer, tenure_month: 3 }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/instances\[0\]: unknown field "tenure_month"/],
  },
  {
    title: 'a whole training row, its target included',
    headers: json,
    payload: instances({ ...riskyCustomer, churned: true }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/instances\[0\]: unknown field "churned" \(the value the model predicts: leave it out of requests\)/],
  },
  {
    title: 'bad fields in several instances',
    headers: json,
    payload: instances(
      loyalCustomer,
      { ...riskyCustomer, contract: undefined, senior: {} },
      { ...loyalCustomer, monthly_charges: '30' },
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [
      /instances\[1\]: missing field "contract"/,
      /instances\[1\]: "senior" must be a string, number, boolean or null, got an object/,
      /instances\[2\]: "monthly_charges" must be a finite number or null, got the string "30"/,
    ],
  },
  {
    title: 'a number outside the float32 range',
    headers: json,
    payload: instances({ ...riskyCustomer, total_charges: 1e308 }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_INPUT_INVALID',
    names: [/"total_charges" is 1e\+308, outside the float32 range/],
  },
  {
    title: 'a model this server does not serve',
    url: '/v1/models/fraud:predict',
    headers: json,
    payload: instances(riskyCustomer),
    status: 404,
    code: 'MLOPS_ERR_SERVE_MODEL_NOT_SERVED',
    // What this server serves instead, not advice to train the model.
    names: [/Model "fraud" is not served here: this server serves model "churn", version v\d+$/m],
  },
  {
    title: 'a path holding half of a UTF-8 character',
    url: '/v1/models/%ED%A0%80:predict',
    headers: json,
    payload: instances(riskyCustomer),
    status: 400,
    code: 'MLOPS_ERR_SERVE_URL_INVALID',
    names: [/\/v1\/models\/%ED%A0%80:predict cannot be routed: it is not valid UTF-8/],
  },
  {
    title: 'a model name of 5,000 characters',
    method: 'GET',
    url: `/v1/models/${'m'.repeat(5000)}`,
    status: 400,
    code: 'MLOPS_ERR_SERVE_URL_INVALID',
    names: [/a part of it is over 100 characters/, /\(5011 characters\)/],
  },
  {
    title: 'an unknown verb',
    url: '/v1/models/churn:explain',
    headers: json,
    payload: instances(riskyCustomer),
    status: 404,
    code: 'MLOPS_ERR_SERVE_ROUTE_NOT_FOUND',
    names: [/churn:explain/],
  },
  {
    title: 'GET on a predict route',
    method: 'GET',
    status: 405,
    code: 'MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED',
    names: [/GET/, /\/v1\/models\/churn:predict/, /POST/],
    allow: 'POST',
  },
  {
    title: 'PUT on a predict route',
    method: 'PUT',
    headers: json,
    payload: instances(riskyCustomer),
    status: 405,
    code: 'MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED',
    names: [/PUT/, /POST/],
    allow: 'POST',
  },
  {
    title: "GET on Vertex AI's predict path",
    method: 'GET',
    url: '/v1/projects/p/locations/l/endpoints/churn:predict',
    status: 405,
    code: 'MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED',
    names: [/GET/, /endpoints\/churn:predict/, /POST/],
    allow: 'POST',
  },
  {
    title: 'GET on v2 infer',
    method: 'GET',
    url: '/v2/models/churn/versions/1/infer',
    status: 405,
    code: 'MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED',
    names: [/GET/, /\/v2\/models\/churn\/versions\/1\/infer/, /POST/],
    allow: 'POST',
  },
  {
    title: 'DELETE on an unknown verb',
    method: 'DELETE',
    url: '/v1/models/churn:explain',
    status: 404,
    code: 'MLOPS_ERR_SERVE_ROUTE_NOT_FOUND',
    names: [/DELETE \/v1\/models\/churn:explain/],
  },
  {
    title: 'a gzip-encoded body',
    headers: { ...json, 'content-encoding': 'gzip' },
    payload: gzipSync(instances(riskyCustomer)),
    status: 415,
    code: 'MLOPS_ERR_SERVE_CONTENT_ENCODING',
    names: [/Content-Encoding "gzip"/, /only identity/],
  },
  {
    title: 'v2: a br-encoded body',
    url: v2Infer,
    headers: { ...json, 'content-encoding': 'br' },
    payload: brotliCompressSync(JSON.stringify(v2Request())),
    status: 415,
    code: 'MLOPS_ERR_SERVE_CONTENT_ENCODING',
    names: [/Content-Encoding "br"/, /only identity/],
  },
  {
    title: 'an unknown route',
    method: 'GET',
    url: '/v3/anything',
    status: 404,
    code: 'MLOPS_ERR_SERVE_ROUTE_NOT_FOUND',
    names: [/GET \/v3\/anything/],
  },
  {
    title: 'v2: a version this server does not serve',
    url: '/v2/models/churn/versions/7/infer',
    headers: json,
    payload: '{"inputs": []}',
    status: 404,
    code: 'MLOPS_ERR_SERVE_MODEL_NOT_SERVED',
    names: [/Model "churn" version "7" is not served here/],
  },
  {
    title: 'v2: no inputs',
    url: v2Infer,
    headers: json,
    payload: '{"inputs": []}',
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/"inputs" must be a non-empty array/],
  },
  {
    title: 'v2: a shape that would need 2^60 elements',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'tenure_months', datatype: 'FP64', shape: [2 ** 50, 1], data: [1] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_TOO_MANY_INSTANCES',
    names: [/limit is 4096/],
  },
  {
    title: 'v2: a dimension past the largest exact integer (2^60)',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'tenure_months', datatype: 'FP64', shape: [2 ** 60], data: [1] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_TOO_MANY_INSTANCES',
    names: [/has 1152921504606846976 instances; the limit is 4096/],
  },
  {
    title: 'a body that starts with a byte-order mark',
    headers: json,
    payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(instances({}))]),
    status: 400,
    code: 'MLOPS_ERR_SERVE_BODY_INVALID',
    names: [/the body starts with a byte-order mark \(U\+FEFF\), which JSON text does not take/],
  },
  {
    title: 'v2: a second dimension past 2^53',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'tenure_months', datatype: 'FP64', shape: [1, 2 ** 60], data: [1] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/shape \[1, 1152921504606846976\] has a dimension past 2\^53 \(shape\[1\] = 1152921504606846976\)/],
  },
  {
    title: 'v2: a shape of 400,000 dimensions, the last past 2^53',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: [
        { name: 'tenure_months', datatype: 'FP64', shape: [...Array<number>(400_000).fill(0), 2 ** 60], data: [] },
      ],
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /shape \[0, 0, 0, 0, … \(400001 dimensions\)\] has a dimension past 2\^53 \(shape\[400000\] = 1152921504606846976\)/,
    ],
  },
  {
    title: 'v2: a category sent as numbers (the metadata declares it BYTES)',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: v2Request().inputs.map((input) =>
        input.name === 'contract' ? { name: 'contract', datatype: 'FP32', shape: [1], data: [1] } : input,
      ),
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /inputs\["contract"\]: datatype FP32 does not match the model's input, a category \(BYTES in its metadata\)/,
    ],
  },
  {
    title: 'v2: a number sent as text',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request('BYTES', ['3'])),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /inputs\["tenure_months"\]: datatype BYTES does not match the model's input, a number \(FP64 in its metadata\)/,
    ],
  },
  {
    title: 'v2: more BYTES elements than the shape',
    url: v2Infer,
    ...v2Binary(
      {
        inputs: v2Request().inputs.map((input) =>
          input.name === 'contract'
            ? { name: 'contract', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 2 * (4 + 8) } }
            : input,
        ),
      },
      Buffer.concat([
        Buffer.from([8, 0, 0, 0]),
        Buffer.from('one-year'),
        Buffer.from([8, 0, 0, 0]),
        Buffer.from('two-year'),
      ]),
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["contract"\]: the BYTES data holds more than the 1 elements of the shape \(12 bytes after them\)/],
  },
  {
    title: 'v2: a binary size that is wrong, before other binary inputs (their bytes cannot be found)',
    url: v2Infer,
    ...v2Binary(
      {
        inputs: [
          { name: 'tenure_months', datatype: 'FP64', shape: [1], parameters: { binary_data_size: 9 } },
          { name: 'monthly_charges', datatype: 'FP64', shape: [1], parameters: { binary_data_size: 8 } },
          ...v2Request().inputs.filter((i) => i.name !== 'tenure_months' && i.name !== 'monthly_charges'),
        ],
      },
      Buffer.alloc(17),
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /inputs\["tenure_months"\]: binary_data_size is 9; 1 × FP64 needs 8/,
      /inputs\["monthly_charges"\]: not read: its binary data cannot be found after inputs\["tenure_months"\]/,
    ],
  },
  {
    title: 'v2: a negative dimension',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'tenure_months', datatype: 'FP64', shape: [-1], data: [1] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/"shape" must be an array of non-negative integers/],
  },
  {
    title: 'v2: unknown and missing inputs',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'age', datatype: 'FP64', shape: [1], data: [1] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/unknown input "age"/, /missing input "region"/],
  },
  {
    title: "v2: the model's target sent as an input",
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({ inputs: [{ name: 'churned', datatype: 'BOOL', shape: [1], data: [true] }] }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/unknown input "churned" \(the value the model predicts: leave it out of requests\)/],
  },
  {
    title: 'v2: data nested deeper than the shape',
    url: v2Infer,
    headers: json,
    payload: `{"inputs": [{"name": "tenure_months", "datatype": "FP64", "shape": [1], "data": [${deep(10_000)}]}]}`,
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["tenure_months"\]: "data" is nested deeper/],
  },
  {
    title: 'v2: a wrong content type',
    url: v2Infer,
    headers: { 'content-type': 'text/csv' },
    payload: '1,2',
    status: 415,
    code: 'MLOPS_ERR_SERVE_MEDIA_TYPE',
    names: [/text\/csv/, /octet-stream/],
  },
  {
    title: 'v2: a binary header length past the body',
    url: v2Infer,
    ...v2Binary({ inputs: [] }, Buffer.alloc(0), '999'),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/Inference-Header-Content-Length "999"/],
  },
  {
    title: 'v2: an FP16 binary tensor',
    url: v2Infer,
    ...v2Binary(
      { inputs: [{ name: 'tenure_months', datatype: 'FP16', shape: [1], parameters: { binary_data_size: 2 } }] },
      Buffer.alloc(2),
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/datatype "FP16" is not supported/],
  },
  {
    title: 'v2: a binary size that does not fit the shape',
    url: v2Infer,
    ...v2Binary(
      { inputs: [{ name: 'tenure_months', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 8 } }] },
      Buffer.alloc(8),
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/binary_data_size is 8; 2 × FP64 needs 16/],
  },
  ...(
    [
      ['INT8', '300', /element 0 is 300; INT8 takes integers from -128 to 127/],
      ['UINT8', '-1', /element 0 is -1; UINT8 takes integers from 0 to 255/],
      ['INT32', '1.5', /element 0 is 1.5; INT32 takes integers from -2147483648 to 2147483647/],
      [
        'INT64',
        '9223372036854775808',
        /element 0 is 9223372036854775808; INT64 takes integers from -9223372036854775808 to 9223372036854775807/,
      ],
      ['UINT64', '-0.5', /element 0 is -0.5; UINT64 takes integers from 0 to 18446744073709551615/],
    ] as const
  ).map(([datatype, text, message]): BadRequest => ({
    title: `v2: ${datatype} data [${text}] outside the datatype`,
    url: v2Infer,
    headers: json,
    // As text: 9223372036854775808 is not a JavaScript number literal's digits once parsed.
    payload: JSON.stringify(v2Request(datatype, [0])).replace('"data":[0]', `"data":[${text}]`),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [new RegExp(`inputs\\["tenure_months"\\]: ${message.source}`)],
  })),
  {
    title: 'v2: a datatype named like an Object.prototype key',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request('constructor')),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["tenure_months"\]: datatype "constructor" is not supported/],
  },
  {
    title: 'v2: a datatype nobody defines, with only nulls as data',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request('WHATEVER', [null])),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["tenure_months"\]: datatype "WHATEVER" is not supported/],
  },
  {
    title: 'v2: a misspelt request field',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request(undefined, undefined, { output: [{ name: 'label' }], paramaters: {} })),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /unknown field "output" \(the protocol defines id, parameters, inputs, outputs\)/,
      /unknown field "paramaters"/,
    ],
  },
  {
    title: 'v2: a misspelt input field, and one in a requested output',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: v2Request().inputs.map((input, k) => (k === 1 ? { ...input, dtype: 'FP64' } : input)),
      outputs: [{ name: 'label', binary: true }],
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      /inputs\[1\] \("monthly_charges"\): unknown field "dtype"/,
      /outputs\[0\] \("label"\): unknown field "binary"/,
    ],
  },
  {
    title: 'v2: a first input without rows in its shape',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: v2Request().inputs.map((input, k) => (k === 0 ? { ...input, shape: [] } : input)),
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["tenure_months"\]: shape \[\] must be \[n\] or \[n, 1\]/],
  },
  ...['+905', '0x10', '1e2', ' 12'].map((length): BadRequest => ({
    title: `v2: a binary header length written ${JSON.stringify(length)}`,
    url: v2Infer,
    ...v2Binary(v2Request(), Buffer.alloc(0), length),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [
      new RegExp(
        `Inference-Header-Content-Length ${JSON.stringify(length).replace('+', '\\+')} must be a positive integer`,
      ),
    ],
  })),
  {
    title: 'v2: BYTES elements that are not UTF-8',
    url: v2Infer,
    ...v2Binary(
      {
        inputs: v2Request().inputs.map((input) =>
          input.name === 'contract'
            ? { name: 'contract', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 4 + 15 } }
            : input,
        ),
      },
      Buffer.concat([Buffer.from([15, 0, 0, 0]), Buffer.from('month-to-month'), Buffer.from([0xff])]),
    ),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\["contract"\]: element 0 is not UTF-8 text/],
  },
  {
    title: 'v2: a version written with a leading zero',
    url: '/v2/models/churn/versions/01/infer',
    headers: json,
    payload: JSON.stringify(v2Request()),
    status: 404,
    code: 'MLOPS_ERR_SERVE_MODEL_NOT_SERVED',
    names: [/version "01" is not served here/],
  },
  {
    title: 'v2: the same input twice',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: [...v2Request().inputs, { name: 'region', datatype: 'BYTES', shape: [1], data: ['north'] }],
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/input "region" is given more than once/],
  },
  {
    title: 'v2: an id that is not a string',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request(undefined, undefined, { id: { x: 1 } })),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/"id" must be a string, got an object/],
  },
  {
    title: 'v2: request parameters that are a string',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request(undefined, undefined, { parameters: 'x' })),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/: "parameters" must be an object such as \{\} \(or left out\), got the string "x"/],
  },
  {
    title: 'v2: request parameters that are null',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request(undefined, undefined, { parameters: null })),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/: "parameters" must be an object such as \{\} \(or left out\), got null/],
  },
  {
    title: "v2: an input's parameters that are an array",
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: v2Request().inputs.map((input, k) => (k === 0 ? { ...input, parameters: [1] } : input)),
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/inputs\[0\] \("tenure_months"\): "parameters" must be an object such as \{\} .*, got an array/],
  },
  {
    title: "v2: an output's parameters that are a string",
    url: v2Infer,
    headers: json,
    payload: JSON.stringify(v2Request(undefined, undefined, { outputs: [{ name: 'label', parameters: 'binary' }] })),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/outputs\[0\] \("label"\): "parameters" must be an object .*, got the string "binary"/],
  },
  {
    title: 'v2: a text that is not a boolean for a boolean feature',
    url: v2Infer,
    headers: json,
    payload: JSON.stringify({
      inputs: Object.entries({ ...riskyCustomer, senior: 'maybe' }).map(([name, value]) => ({
        name,
        datatype: typeof value === 'string' ? 'BYTES' : typeof value === 'boolean' ? 'BOOL' : 'FP64',
        shape: [1],
        data: [value],
      })),
    }),
    status: 400,
    code: 'MLOPS_ERR_SERVE_V2_INPUT_INVALID',
    names: [/row 0: "senior" must be true, false or null/, /one input per feature/],
  },
];

/** The code and message of an error answer, in our shape or in Google's (on the Vertex AI path). */
function errorOf(answer: { code: string; error: string | { reason: string; message: string } }) {
  const { error } = answer;
  return typeof error === 'string' ? { code: answer.code, error } : { code: error.reason, error: error.message };
}

describe('the model server answering bad requests', function () {
  let app: FastifyInstance;
  let address: Promise<string> | undefined;
  const logLines: string[] = [];
  /** The server's address over a real socket, listened on once. */
  const listening = () => (address ??= app.listen({ host: '127.0.0.1', port: 0 }));

  before(async function () {
    const { store } = await servedChurn();
    app = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      logger: { level: 'info', stream: { write: (line: string) => void logLines.push(line) } },
    });
  });

  after(async () => {
    await app?.close();
  });

  it("counts a v2 request its version's schema refuses against that version, as v1 does", async function () {
    const count = async () =>
      (await app.serving.metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('mlops_serve_requests_total') && l.includes('route="/v2/models/:model/infer"'))
        .filter((l) => l.includes('status="400"'))
        .map((l) => [/version="(\w+)"/.exec(l)![1], Number(l.split(' ').pop())] as const);
    const before = new Map(await count());
    const { inputs } = v2Request();
    const response = await app.inject({
      method: 'POST',
      url: v2Infer,
      headers: json,
      payload: JSON.stringify({ inputs: inputs.slice(1) }),
    });
    assert.equal(response.statusCode, 400);
    const version = app.serving.slot.current!.version;
    assert.equal(response.headers['x-model-version'], String(version));
    const after = new Map(await count());
    assert.equal((after.get(String(version)) ?? 0) - (before.get(String(version)) ?? 0), 1);
    assert.equal(after.get('none') ?? 0, before.get('none') ?? 0);
  });

  for (const bad of table) {
    it(`answers ${bad.title} with ${bad.status} ${bad.code}, naming the field or limit`, async function () {
      logLines.length = 0;
      const response = await app.inject({
        method: bad.method ?? 'POST',
        url: bad.url ?? predict,
        headers: bad.headers,
        payload: bad.payload,
      });
      assert.equal(response.statusCode, bad.status, response.body.slice(0, 500));
      const body = errorOf(response.json());
      assert.equal(body.code, bad.code);
      for (const name of bad.names) assert.match(body.error, name);
      assert.equal(response.headers.allow, bad.allow);
      assert.ok(response.headers['x-request-id'], 'every answer carries its request id');
      assert.doesNotMatch(response.body, /\bat .*\.[jt]s:\d+/, 'no stack trace in the answer');
      assert.ok(logLines.length > 0, 'the rejection is logged');
      for (const line of logLines) assert.doesNotMatch(line, /"stack"|\bat .*\.[jt]s:\d+/, 'no stack trace logged');
      // Each line names its request once (a key given twice is invalid JSON for strict readers).
      for (const line of logLines) assert.ok((line.match(/"reqId"/g) ?? []).length <= 1, line);
      const rejected = logLines.find((line) => line.includes('"rejected request"'));
      assert.ok(rejected?.includes(`"reqId":"${String(response.headers['x-request-id'])}"`), rejected);
    });
  }

  it('keeps an error answer small: a long field name is cut, and thousands of problems are counted past the first 100', async function () {
    const long = `x${'y'.repeat(99_999)}`;
    const one = await app.inject({
      method: 'POST',
      url: predict,
      headers: json,
      payload: instances({ ...riskyCustomer, [long]: 1 }),
    });
    assert.equal(one.statusCode, 400);
    assert.ok(one.body.length < 2000, `${one.body.length} bytes`);
    assert.match(one.json<{ error: string }>().error, /unknown field "xyyy[y]*"… \(100000 characters\)/);
    const many = await app.inject({
      method: 'POST',
      url: predict,
      headers: json,
      payload: instances(...Array.from({ length: 4000 }, (_, i) => ({ ...riskyCustomer, [`extra${i}`]: i }))),
    });
    assert.equal(many.statusCode, 400);
    assert.ok(many.body.length < 20_000, `${many.body.length} bytes`);
    const error = many.json<{ error: string }>().error;
    assert.match(error, /instances\[0\]: unknown field "extra0"/);
    assert.match(error, /instances\[99\]: unknown field "extra99"; and 3900 more \(4000 problems in all\)/);
    const topLevel = await app.inject({
      method: 'POST',
      url: predict,
      headers: json,
      payload: JSON.stringify({
        instances: [riskyCustomer],
        ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])),
      }),
    });
    assert.equal(topLevel.statusCode, 400);
    assert.match(topLevel.json<{ error: string }>().error, /unknown top-level field "k0", .*"k9" and 40 more;/);
  });

  it('serves a body over 1 MiB and under the 1.5 MB limit', async function () {
    const rows = new Array<unknown>(4096).fill({
      ...loyalCustomer,
      region: 'a-region-never-seen-in-training'.repeat(4),
    });
    const payload = instances(...rows);
    assert.ok(payload.length > 1_048_576 && payload.length < 1_500_000, String(payload.length));
    const response = await app.inject({ method: 'POST', url: predict, headers: json, payload });
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));
    assert.equal(response.json<{ predictions: unknown[] }>().predictions.length, 4096);
  });

  it('takes its limits from the server options', async function () {
    const { store } = await servedChurn();
    const small = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      limits: { bodyLimit: 2048, maxInstances: 2 },
    });
    try {
      const big = await small.inject({
        method: 'POST',
        url: predict,
        headers: json,
        payload: instances(...new Array<unknown>(20).fill(riskyCustomer)),
      });
      assert.equal(big.statusCode, 413);
      assert.match(big.json<{ error: string }>().error, /limit of 2048 bytes/);
      const many = await small.inject({
        method: 'POST',
        url: predict,
        headers: json,
        payload: instances(riskyCustomer, riskyCustomer, riskyCustomer),
      });
      assert.equal(many.statusCode, 400);
      assert.match(many.json<{ error: string }>().error, /3 instances; the limit is 2/);
    } finally {
      await small.close();
    }
  });

  it('answers a 5 MB body with 413 over a real socket instead of dropping the connection', async function () {
    const payload = JSON.stringify({ instances: [riskyCustomer], pad: 'x'.repeat(5_000_000) });
    const response = await fetch(`${await listening()}${predict}`, { method: 'POST', headers: json, body: payload });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { code: string }).code, 'MLOPS_ERR_SERVE_BODY_TOO_LARGE');
  });

  it('takes parameters that are an object or null (as Vertex AI does) and refuses any other with 400 over a real socket', async function () {
    const post = async (url: string, body: object) => {
      const response = await fetch(`${await listening()}${url}`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(body),
      });
      return { status: response.status, answer: errorOrNone(await response.json()) };
    };
    const vertex = '/v1/projects/p/locations/l/endpoints/churn:predict';
    for (const url of [predict, vertex])
      for (const parameters of [undefined, null, {}, { confidenceThreshold: 0.5 }]) {
        const { status, answer } = await post(url, { instances: [riskyCustomer], parameters });
        assert.equal(status, 200, `${url} with parameters ${JSON.stringify(parameters)}: ${answer?.error}`);
      }
    for (const url of [predict, vertex])
      for (const [parameters, got] of [
        ['x', 'got the string "x"'],
        [[1], 'got an array'],
        [true, 'got a boolean'],
      ] as const) {
        const { status, answer } = await post(url, { instances: [riskyCustomer], parameters });
        assert.equal(status, 400, `${url} with parameters ${JSON.stringify(parameters)}`);
        assert.equal(answer?.code, 'MLOPS_ERR_SERVE_INPUT_INVALID');
        assert.ok(
          answer.error.includes(`"parameters" must be an object such as {} (or left out), ${got}`),
          answer.error,
        );
      }
    const v2 = await post(v2Infer, v2Request(undefined, undefined, { parameters: { binary_data_output: false } }));
    assert.equal(v2.status, 200, v2.answer?.error);
    const v2Refused = await post(v2Infer, v2Request(undefined, undefined, { parameters: [1] }));
    assert.equal(v2Refused.status, 400);
    assert.equal(v2Refused.answer?.code, 'MLOPS_ERR_SERVE_V2_INPUT_INVALID');
    assert.match(v2Refused.answer.error, /"parameters" must be an object such as \{\} \(or left out\), got an array/);
  });
});

describe("the model server's log lines", function () {
  it('writes no line for an answered request at INFO, and one DEBUG line per request at DEBUG (fast lane and routes)', async function () {
    const { store } = await servedChurn();
    for (const level of ['info', 'debug']) {
      const lines: string[] = [];
      const app = await buildServer({
        store,
        modelName: 'churn',
        alias: 'production',
        logger: { level, stream: { write: (line: string) => void lines.push(line) } },
      });
      try {
        const base = await app.listen({ host: '127.0.0.1', port: 0 });
        lines.length = 0;
        const body = JSON.stringify({ instances: [riskyCustomer] });
        const headers = { ...json, 'x-request-id': `lines-${level}` };
        // The v1 route (answered by the fast lane), a v2 route and a probe (fastify's routes).
        assert.equal((await fetch(`${base}${predict}`, { method: 'POST', headers, body })).status, 200);
        const v2 = JSON.stringify(v2Request());
        assert.equal((await fetch(`${base}${v2Infer}`, { method: 'POST', headers, body: v2 })).status, 200);
        assert.equal((await fetch(`${base}/healthz`, { headers })).status, 200);
        const answered = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'answered');
        if (level === 'info') {
          assert.deepEqual(lines, [], 'nothing at INFO for requests that were answered');
          continue;
        }
        assert.deepEqual(
          answered.map((l) => [l.method, l.url, l.statusCode, l.reqId]),
          [
            ['POST', predict, 200, `lines-${level}`],
            ['POST', v2Infer, 200, `lines-${level}`],
            ['GET', '/healthz', 200, `lines-${level}`],
          ],
        );
        assert.equal(lines.filter((l) => /incoming request|request completed/.test(l)).length, 0);
        for (const line of answered) assert.equal(typeof line.ms, 'number');
      } finally {
        await app.close();
      }
    }
  });
});

/** The code and message of an error answer, or undefined for a prediction. */
function errorOrNone(answer: unknown): { code: string; error: string } | undefined {
  const body = answer as { code?: string; error?: string | { reason: string; message: string } };
  return body.error === undefined ? undefined : errorOf(body as Parameters<typeof errorOf>[0]);
}
