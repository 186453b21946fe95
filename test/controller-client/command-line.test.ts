/**
 * The `npm run models` command line, parsed without a server: each command becomes the update (or start, query,
 * schedule) it stands for, and every mistake is named before anything reaches Temporal.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { controllerInputSchema, controllerStartInputSchema } from '../../src/contracts/controller';
import { parseModelsCommand, UsageError } from '../../src/controller-client/command-line';
import type { ErrorCode } from '../../src/errors';
import { modelsScript } from '../support/models-script';
import { tempDir } from '../support/stack';

function updateOf(argv: string[]) {
  const command = parseModelsCommand(argv);
  assert.equal(command.kind, 'update');
  return command.update;
}

function assertRefused(argv: string[], code: ErrorCode, message: RegExp): void {
  assert.throws(
    () => parseModelsCommand(argv),
    (err: unknown) => err instanceof ApplicationFailure && err.type === code && message.test(err.message),
  );
}

function assertUsage(argv: string[], message: RegExp): void {
  assert.throws(
    () => parseModelsCommand(argv),
    (err: unknown) => err instanceof UsageError && message.test(err.message),
  );
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function trainingFile(content: string): string {
  const file = path.join(tempDir('models-cli'), 'training.json');
  fs.writeFileSync(file, content);
  return file;
}

describe('the npm run models command line', function () {
  it('turns each update command into the update of src/workflows/definitions.ts with its one argument', function () {
    assert.deepEqual(updateOf(['deploy', 'churn', '3']), { command: 'deploy', name: 'deploy', arg: { version: 3 } });
    assert.deepEqual(updateOf(['deploy', 'churn', '3', '--direct']).arg, { version: 3, direct: true });
    assert.deepEqual(updateOf(['promote', 'churn']), { command: 'promote', name: 'promote' });
    assert.deepEqual(updateOf(['rollback', 'churn']), { command: 'rollback', name: 'rollback' });
    assert.deepEqual(updateOf(['rollback', 'churn', '--reason', 'bad canary']).arg, { reason: 'bad canary' });
    assert.deepEqual(updateOf(['retrain', 'churn', '--reason', 'new labels']), {
      command: 'retrain',
      name: 'retrain',
      arg: { reason: 'new labels' },
    });
    assert.deepEqual(updateOf(['pause', 'churn', '--reason', 'incident review']), {
      command: 'pause',
      name: 'pause',
      arg: { reason: 'incident review' },
    });
    assert.deepEqual(updateOf(['pause', 'churn']), { command: 'pause', name: 'pause' });
    assert.deepEqual(updateOf(['resume', 'churn']), { command: 'resume', name: 'resume' });
    assert.deepEqual(updateOf(['approve', 'churn', '4']).arg, { version: 4 });
    assert.deepEqual(updateOf(['approve', 'churn', '4', '--reason', 'reviewed']).arg, {
      version: 4,
      reason: 'reviewed',
    });
    assert.deepEqual(updateOf(['reject', 'churn', '4', '--reason', 'too slow']).arg, {
      version: 4,
      reason: 'too slow',
    });
    assert.deepEqual(updateOf(['thresholds', 'churn', '--max-error-rate', '0.05', '--bake-seconds', '30']), {
      command: 'thresholds',
      name: 'setThresholds',
      arg: { maxErrorRate: 0.05, bakeSeconds: 30 },
    });
    assert.deepEqual(updateOf(['mute', 'churn', 'region']), {
      command: 'mute',
      name: 'mute',
      arg: { feature: 'region', muted: true },
    });
    assert.deepEqual(updateOf(['unmute', 'churn', 'region']).arg, { feature: 'region', muted: false });
    assert.deepEqual(parseModelsCommand(['status', 'churn', '--json']), {
      kind: 'status',
      modelName: 'churn',
      json: true,
    });
  });

  it('builds the controller input of start from the training file and the options, sending only what was given', function () {
    const training = { dataset: { uri: 'examples/churn.csv' }, target: 'churned' };
    const file = trainingFile(JSON.stringify(training));
    assert.deepEqual(parseModelsCommand(['start', 'churn', '--training', file]), {
      kind: 'start',
      input: { modelName: 'churn', training },
      taskQueue: undefined,
    });
    const argv = ['start', 'churn', '--training', file, '--servers', 'http://a:8080, http://b:8080'];
    argv.push('--approval', '--approval-timeout', '60', '--on-timeout', 'approve', '--retrain-on', 'drift');
    argv.push('--retrain-cooldown', '3600');
    argv.push('--muted', 'region,senior', '--weight', '0.2', '--bake-seconds', '60', '--task-queue', 'q');
    assert.deepEqual(parseModelsCommand(argv), {
      kind: 'start',
      taskQueue: 'q',
      input: {
        modelName: 'churn',
        training,
        servers: ['http://a:8080', 'http://b:8080'],
        retrainOn: ['drift'],
        retrainCooldownSeconds: 3600,
        muted: ['region', 'senior'],
        canary: { weight: 0.2, bakeSeconds: 60 },
        approval: { required: true, timeoutSeconds: 60, onTimeout: 'approve' },
      },
    });
  });

  it('takes none for no servers in start as servers does, and sends URLs that name the same server once', function () {
    const file = trainingFile(JSON.stringify({ dataset: { uri: 'examples/churn.csv' }, target: 'churned' }));
    const start = (servers: string) => {
      const command = parseModelsCommand(['start', 'churn', '--training', file, '--servers', servers]);
      assert.equal(command.kind, 'start');
      return command.input.servers;
    };
    const setServers = (servers: string) => updateOf(['servers', 'churn', servers]).arg;
    assert.deepEqual(start('none'), []);
    assert.deepEqual(setServers('none'), { servers: [] });
    // Only what certainly names the same server is one: a trailing /, the default port, the case of scheme and host.
    const written =
      'http://a:8080/, HTTP://A:8080,http://a:8080//,https://b.example:443/x/,https://B.example/x,http://c:80,http://localhost:8080,http://127.0.0.1:8080/';
    const once = ['http://a:8080', 'https://b.example/x', 'http://c', 'http://localhost:8080', 'http://127.0.0.1:8080'];
    assert.deepEqual(start(written), once);
    assert.deepEqual(setServers(written), { servers: once });
    // Other ports and paths are other servers, and what is no http(s) URL is still refused by its option.
    assert.deepEqual(start('http://a:8080,http://a:8081,http://a:8080/v2'), [
      'http://a:8080',
      'http://a:8081',
      'http://a:8080/v2',
    ]);
    assertRefused(
      ['start', 'churn', '--training', file, '--servers', 'none,http://a:8080'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /- --servers \(servers\.0\): Invalid url/,
    );
  });

  it('refuses a server URL with a query string, a fragment or credentials in start and servers, naming it and its base URL', function () {
    const file = trainingFile(JSON.stringify({ dataset: { uri: 'examples/churn.csv' }, target: 'churned' }));
    const paths = ' to which the controller appends its own paths \\(/v1/models/<model>/stats, /readyz\\)';
    const refusals: [string, string][] = [
      [
        'http://127.0.0.1:8080/?x=1',
        `"http://127.0.0.1:8080/\\?x=1" has a query string \\("\\?x=1"\\): give the server's base URL, "http://127.0.0.1:8080",${paths}`,
      ],
      ['http://h:8080#a', `"http://h:8080#a" has a fragment \\("#a"\\): give the server's base URL, "http://h:8080",`],
      // Empty ones too: the controller would append its paths after the "?" all the same.
      [
        'http://h:8080/serving?',
        `"http://h:8080/serving\\?" has a query string \\("\\?"\\): give the server's base URL, "http://h:8080/serving",`,
      ],
      ['http://h:8080/#', `"http://h:8080/#" has a fragment \\("#"\\): give the server's base URL, "http://h:8080",`],
      // The password is not repeated; the API key goes where the controller sends it from.
      [
        'https://admin:s3cret@h:8443/?k=v',
        `"https://\\*\\*\\*@h:8443/\\?k=v" has credentials and a query string \\("\\?k=v"\\): give the server's base URL, "https://h:8443",${paths}; a server that requires an API key gets the first of MLOPS_SERVE_API_KEYS where the pipeline worker runs`,
      ],
      [
        'http://bücher.example:8080?x',
        `"http://bücher.example:8080\\?x" has a query string \\("\\?x"\\): give the server's base URL, "http://xn--bcher-kva.example:8080",`,
      ],
      [
        `http://h/${'p'.repeat(3000)}`,
        `"http://h/p{91}"… \\(3009 characters\\) is no model server's base URL: it has over 2048 characters`,
      ],
    ];
    for (const [url, message] of refusals) {
      const given = `http://127.0.0.1:9,${url}`;
      assertRefused(
        ['start', 'churn', '--training', file, '--servers', given],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        new RegExp(
          `Argument --servers of \`npm run models -- start\` is invalid: \\n- --servers \\(servers\\.1\\): ${message}`,
        ),
      );
      assertRefused(
        ['servers', 'churn', given],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        new RegExp(
          `Argument <urls> of \`npm run models -- servers\` is invalid: \\n- <urls> \\(servers\\.1\\): ${message}`,
        ),
      );
    }
    // Neither the user name nor the password is repeated.
    assert.throws(
      () => parseModelsCommand(['servers', 'churn', 'http://admin:s3cret@h:8080']),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        /"http:\/\/\*\*\*@h:8080" has credentials/.test(err.message) &&
        !/admin|s3cret/.test(err.message),
    );
    // A path is a base URL (a server behind a proxy), and a Unicode host is sent as its ASCII form.
    assert.deepEqual(updateOf(['servers', 'churn', 'http://h:8080/serving/churn/,http://bücher.example:8080']).arg, {
      servers: ['http://h:8080/serving/churn', 'http://xn--bcher-kva.example:8080'],
    });
    // What a running controller parses again on replay and continue-as-new keeps taking what it took before.
    const input = { modelName: 'churn', training: {}, servers: ['http://127.0.0.1:8080/?x=1'] };
    assert.equal(controllerInputSchema.safeParse(input).success, true);
    assert.equal(controllerStartInputSchema.safeParse(input).success, false);
  });

  it('lists every bad field of the controller input at once, each by the option that sets it and the field', function () {
    const file = trainingFile('{"target":"churned"}');
    const argv = ['start', 'churn', '--training', file, '--servers', 'not-a-url', '--max-error-rate', '3'];
    argv.push('--on-timeout', 'maybe', '--retrain-on', 'drift,weather', '--retrain-cooldown', 'a day');
    assertRefused(
      argv,
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --servers, --max-error-rate, --on-timeout, --retrain-on, --retrain-cooldown of `npm run models -- start` is invalid: \n- --servers \(servers\.0\): Invalid url[\s\S]*\n- --max-error-rate \(canary\.maxErrorRate\): [\s\S]*\n- --on-timeout \(approval\.onTimeout\): [\s\S]*\n- --retrain-on \(retrainOn\.1\): [\s\S]*\n- --retrain-cooldown \(retrainCooldownSeconds\): /,
    );
    // The training file is checked as each retrain's input, its fields named within it.
    assertRefused(
      [
        'start',
        'churn',
        '--training',
        trainingFile(
          '{"dataset":{"uri":"examples/churn.csv"},"target":"churned","trainer":{"hyperparameters":{"epoch":5}}}',
        ),
      ],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --training of `npm run models -- start` is invalid: \n- --training \(training\.trainer\.hyperparameters/,
    );
  });

  it('names the training file when it is missing, not JSON or not one object', function () {
    const missing = path.join(tempDir('models-cli'), 'nope.json');
    assertRefused(['start', 'churn'], 'MLOPS_ERR_CLI_ARGUMENT_INVALID', /--training .*it is required/);
    assertRefused(
      ['start', 'churn', '--training', missing],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /cannot read .*nope\.json/,
    );
    assertRefused(
      ['start', 'churn', '--training', trainingFile('{"a":')],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /is not JSON/,
    );
    assertRefused(
      ['start', 'churn', '--training', trainingFile('[1, 2]')],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /must hold one JSON object/,
    );
  });

  it('refuses a bad model name, version or number with the argument it concerns', function () {
    assertRefused(
      ['status', 'Churn'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /<model> .*"Churn" is not a registry model name/,
    );
    assertRefused(['status', '../etc'], 'MLOPS_ERR_CLI_ARGUMENT_INVALID', /<model>/);
    for (const version of ['0', '1.5', '+2', 'x', '1e3', '99999999999999999999']) {
      assertRefused(
        ['deploy', 'churn', version],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        /<version> of `npm run models -- deploy`/,
      );
    }
    assertRefused(['approve', 'churn', 'latest'], 'MLOPS_ERR_CLI_ARGUMENT_INVALID', /<version>/);
    assertRefused(
      ['thresholds', 'churn', '--max-error-rate', 'high'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /--max-error-rate .*"high" is not a number/,
    );
    assertRefused(['thresholds', 'churn', '--weight', ''], 'MLOPS_ERR_CLI_ARGUMENT_INVALID', /--weight/);
    assertRefused(['thresholds', 'churn'], 'MLOPS_ERR_CLI_ARGUMENT_INVALID', /give at least one of --weight/);
    // Out of range: refused here as the controller would, before anything is sent (exit 2, not the server's refusal).
    assertRefused(
      ['thresholds', 'churn', '--weight', '2'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --weight of `npm run models -- thresholds` is invalid: \n- --weight \(weight\): Number must be less than 1/,
    );
    assertRefused(
      ['servers', 'churn', 'ftp://10.0.0.5/x,http://10.0.0.6:8080'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /- <urls> \(servers\.0\): must be an http:\/\/ or https:\/\/ URL of a model server/,
    );
    assertRefused(
      ['start', 'nope', '--training', trainingFile('{"modelName":"species","target":"y"}')],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /--training .*training\.json trains model "species", not "nope": start the controller of that model/,
    );
    assertRefused(
      ['schedule-retrain', 'churn', '--cron', '@daily', '--reason', ''],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --reason of `npm run models -- schedule-retrain` is invalid: "" is empty/,
    );
  });

  it('refuses an empty servers, muted, task-queue or feature value naming it, where it would silently mean none', function () {
    const file = trainingFile('{"dataset":{"uri":"examples/churn.csv"},"target":"churned"}');
    for (const urls of ['', ',', ' , ']) {
      assertRefused(
        ['servers', 'churn', urls],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument <urls> of `npm run models -- servers` is invalid: ".*" names no server: give the servers' URLs, or none for no servers/,
      );
    }
    assert.deepEqual(updateOf(['servers', 'churn', 'none']).arg, { servers: [] });
    for (const [flag, fix] of [
      ['--servers', /or none for no servers/],
      ['--muted', /or leave --muted out to mute none/],
      ['--task-queue', /or leave --task-queue out for mlops-pipeline/],
    ] as const) {
      for (const value of ['', ',']) {
        assertRefused(
          ['start', 'churn', '--training', file, flag, value],
          'MLOPS_ERR_CLI_ARGUMENT_INVALID',
          new RegExp(
            `Argument ${flag} of \`npm run models -- start\` is invalid: "${value}" is empty: .*${fix.source}`,
          ),
        );
      }
    }
    assertRefused(
      ['schedule-retrain', 'churn', '--cron', '@daily', '--task-queue', ''],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --task-queue of `npm run models -- schedule-retrain` is invalid: "" is empty/,
    );
    for (const command of ['rollback', 'retrain', 'pause'])
      assertRefused(
        [command, 'churn', '--reason', ''],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        new RegExp(
          `Argument --reason of \`npm run models -- ${command}\` is invalid: "" is empty: write why, or leave`,
        ),
      );
    for (const command of ['mute', 'unmute'])
      assertRefused(
        [command, 'churn', ' '],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        new RegExp(`Argument <feature> of \`npm run models -- ${command}\` is invalid: it is empty`),
      );
  });

  it('names a negative number or a value starting with "-" (parseArgs called both "ambiguous")', function () {
    assertUsage(
      ['thresholds', 'churn', '--weight', '-0.5'],
      /^--weight -0\.5: a negative number is not accepted \(the value is 0 or more\)\.$/,
    );
    assertUsage(['status', 'churn', '--timeout', '-.5'], /^--timeout -\.5: a negative number is not accepted/);
    assertUsage(
      ['rollback', 'churn', '--reason', '-v2 was bad'],
      /^--reason needs a value; to give one that starts with "-", write --reason=-v2 was bad\.$/,
    );
    assert.deepEqual(updateOf(['rollback', 'churn', '--reason=-v2 was bad']).arg, { reason: '-v2 was bad' });
    assertUsage(
      ['rollback', 'churn', '--reason', '--json'],
      /^--reason needs a value: the next argument, --json, is an option\.$/,
    );
  });

  it('reads numbers in plain decimal only, and refuses one above its bound naming the bound', function () {
    const refused = (flag: string, value: string, reason: RegExp) =>
      assertRefused(
        ['thresholds', 'churn', flag, value],
        'MLOPS_ERR_CLI_ARGUMENT_INVALID',
        new RegExp(
          `^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument ${flag} of \`npm run models -- thresholds\` is invalid: ${reason.source}`,
        ),
      );
    for (const value of ['0x10', '1e3', '+16', '16.0', 'Infinity'])
      refused(
        '--bake-seconds',
        value,
        new RegExp(`"${escaped(value)}" is not a whole number in decimal digits \\(like 600\\)`),
      );
    refused('--min-requests', '1e300', /"1e300" is not a whole number in decimal digits/);
    refused('--min-requests', '1000000001', /1000000001 is above the largest accepted, 1000000000/);
    refused(
      '--max-latency-ratio',
      '1e308',
      /"1e308" is not a number in decimal digits \(like 0\.5\): no sign, exponent or hex/,
    );
    refused('--max-latency-ratio', '1000.5', /1000\.5 is above the largest accepted, 1000/);
    assert.deepEqual(updateOf(['thresholds', 'churn', '--max-latency-ratio', '1000', '--weight', '.25']).arg, {
      weight: 0.25,
      maxLatencyRatio: 1000,
    });
    assert.deepEqual(updateOf(['thresholds', 'churn', '--bake-seconds', '16']).arg, { bakeSeconds: 16 });
    assert.deepEqual(parseModelsCommand(['deploy', 'churn', '3', '--timeout', '5']), {
      kind: 'update',
      modelName: 'churn',
      json: false,
      update: { command: 'deploy', name: 'deploy', arg: { version: 3 } },
      timeoutSeconds: 5,
    });
    assertRefused(
      ['status', 'churn', '--timeout', '0'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --timeout of `npm run models -- status` is invalid: it is 0: give the seconds to wait/,
    );
    assertRefused(
      ['history', 'churn', '--timeout', '3601'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /--timeout of `npm run models -- history` is invalid: 3601 is above the largest accepted, 3600/,
    );
    const file = trainingFile('{"dataset":{"uri":"examples/churn.csv"},"target":"churned"}');
    assertRefused(
      ['start', 'churn', '--training', file, '--approval-timeout', '1e3'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --approval-timeout of `npm run models -- start` is invalid: "1e3" is not a whole number/,
    );
    assertRefused(
      ['start', 'churn', '--training', file, '--retrain-cooldown', '0x10'],
      'MLOPS_ERR_CLI_ARGUMENT_INVALID',
      /Argument --retrain-cooldown of `npm run models -- start` is invalid: \n- --retrain-cooldown \(retrainCooldownSeconds\)/,
    );
  });

  it('answers an unknown command, an unknown or misplaced option and a wrong argument count with a usage error', function () {
    assertUsage([], /No command given/);
    assertUsage(['launch', 'churn'], /Unknown command "launch"/);
    assertUsage(['status'], /status needs a model name/);
    assertUsage(['deploy', 'churn'], /deploy takes churn <version>; got churn\./);
    assertUsage(['promote', 'churn', '3'], /promote takes churn; got churn 3\./);
    assertUsage(['status', 'churn', '--verbose'], /Unknown option '--verbose'/);
    assertUsage(['status', 'churn', '--direct'], /status has no option --direct/);
    assertUsage(['promote', 'churn', '--reason', 'x'], /promote has no option --reason/);
    assertUsage(['schedule-retrain', 'churn'], /schedule-retrain needs --cron/);
    assertUsage(['schedule-retrain', 'churn', '--cron', ' '], /schedule-retrain needs --cron/);
  });

  it('builds the retraining schedule with the reason only when one is given', function () {
    assert.deepEqual(parseModelsCommand(['schedule-retrain', 'churn', '--cron', '0 3 * * 1']), {
      kind: 'schedule-retrain',
      schedule: { cron: '0 3 * * 1', input: { modelName: 'churn' } },
    });
    const argv = ['schedule-retrain', 'churn', '--cron', '@weekly', '--reason', 'weekly', '--task-queue', 'q'];
    assert.deepEqual(parseModelsCommand(argv), {
      kind: 'schedule-retrain',
      schedule: { cron: '@weekly', input: { modelName: 'churn', reason: 'weekly' }, taskQueue: 'q' },
    });
    assert.deepEqual(parseModelsCommand(['unschedule-retrain', 'churn']), {
      kind: 'unschedule-retrain',
      modelName: 'churn',
    });
  });

  it('the script prints the usage with exit code 2 for a bad command line, and 0 when asked for help', async function () {
    const bad = await modelsScript('deploy', 'churn');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^deploy takes churn <version>; got churn\.\n\nUsage: npm run models -- <command>/m);
    const badValue = await modelsScript('deploy', 'churn', 'latest');
    assert.equal(badValue.code, 2);
    assert.match(badValue.stderr, /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument <version>/m);
    const help = await modelsScript('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: npm run models[\s\S]*schedule-retrain <model> --cron/);
    assert.match(help.stdout, /\n {2}start <model> --training <training-input\.json> \[--servers <url,url>\|none\]/);
    assert.match(
      help.stdout,
      /\nServers \(start --servers, servers\): none means no servers \(new versions deploy directly, without a canary\); URLs\nnaming the same server \(a trailing \/, the default port, upper-case scheme or host\) count once\. Each URL is a model\nserver's base URL, like http:\/\/127\.0\.0\.1:8080 \(with a path if a proxy serves it under one\), and has no query string,\nfragment or credentials\.\n/,
    );
    const query = await modelsScript('servers', 'churn', 'http://127.0.0.1:8080/?x=1');
    assert.equal(query.code, 2);
    assert.match(
      query.stderr,
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument <urls> of `npm run models -- servers` is invalid: \n- <urls> \(servers\.0\): "http:\/\/127\.0\.0\.1:8080\/\?x=1" has a query string \("\?x=1"\): give the server's base URL, "http:\/\/127\.0\.0\.1:8080",/,
    );
    // --help after a command, as every refusal's Fix line suggests, is the same usage.
    const after = await modelsScript('thresholds', 'churn', '--help');
    assert.deepEqual([after.code, after.stdout], [0, help.stdout]);
  });
});
