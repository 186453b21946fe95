/** How a source's file format is told from its URI when the input does not name one. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { inferFormat } from '../../src/ingest/source-uri';

describe('the format of a dataset source', function () {
  it('comes from the extension of the path, compressed or not, whatever the query', function () {
    assert.equal(inferFormat('data/People.CSV'), 'csv');
    assert.equal(inferFormat('gs://bucket/day=1/part.parquet'), 'parquet');
    assert.equal(inferFormat('https://example.test/export.ndjson.gz?token=1#x'), 'jsonl');
  });

  it("names the path's extension when there is none it reads, never the host or the port", function () {
    const refused = (uri: string) => {
      try {
        inferFormat(uri);
      } catch (err) {
        assert.ok(err instanceof ApplicationFailure && err.type === 'MLOPS_ERR_DATA_FORMAT_UNSUPPORTED', String(err));
        return /has an unsupported format "([^"]*)"/.exec(err.message)![1];
      }
      return assert.fail(`${uri} was taken`);
    };
    assert.equal(refused('http://127.0.0.1:8765/'), '(none)');
    assert.equal(refused('http://files.example.test:8080/download?id=7'), '(none)');
    assert.equal(refused('https://example.test/data.xlsx'), '.xlsx');
    assert.equal(refused('gs://bucket.with.dots/table'), '(none)');
    assert.equal(refused('data/notes.txt'), '.txt');
  });
});
