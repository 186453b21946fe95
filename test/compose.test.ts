import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { configSchema, loadConfig } from '../src/config';
import { searchAttributeFlags } from '../src/contracts/search-attributes';
import { repoRoot, stack } from './support/stack';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, unknown>;
  volumes?: string[];
  ports?: string[];
}

const composeText = fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8');
const compose = parseDocument(composeText);
const services = (compose.toJS() as { services: Record<string, Service> }).services;
const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const gpuCompose = parseDocument(fs.readFileSync(path.join(repoRoot, 'docker-compose.gpu.yml'), 'utf8')).toJS() as {
  services: Record<string, unknown>;
};
/** Variables the Temporal SDK's environment configuration reads (@temporalio/envconfig). */
const temporalVariables = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_PROFILE',
  'TEMPORAL_TLS',
];
const projectServices = Object.entries(services).filter(([, s]) => s.build !== undefined);

/** ENV lines of the Dockerfile's final stage, which every project service inherits. */
function dockerfileEnv(): Record<string, string> {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const block of finalStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)) {
    for (const pair of block[1]!.replace(/\\\n/g, ' ').matchAll(/(\w+)=(\S+)/g)) env[pair[1]!] = pair[2]!;
  }
  return env;
}

describe('docker-compose.yml and the Dockerfile', function () {
  it('describe the whole stack: Temporal on PostgreSQL, the Web UI, both workers and the model server', function () {
    assert.deepEqual(Object.keys(services).sort(), [
      'model-server',
      'pipeline-worker',
      'postgresql',
      'temporal',
      'temporal-search-attributes',
      'temporal-ui',
      'training-worker',
    ]);
    assert.equal(services.temporal!.environment!.DB, 'postgres12');
    assert.equal(services.temporal!.environment!.POSTGRES_SEEDS, 'postgresql');
  });

  it('pin every image, and run the Temporal server and UI versions the dev server runs', function () {
    const version = execFileSync(stack().cliPath, ['--version'], { encoding: 'utf8' });
    const [, server, ui] = /Server ([\d.]+), UI ([\d.]+)/.exec(version)!;
    for (const [name, service] of Object.entries(services)) {
      if (service.image) assert.match(service.image, /:[\w.-]+$/, `${name} must pin a tag`);
      assert.doesNotMatch(service.image ?? '', /:latest$/, `${name} must not use :latest`);
    }
    assert.equal(services.temporal!.image, `temporalio/auto-setup:${server}`);
    assert.equal(services['temporal-search-attributes']!.image, `temporalio/admin-tools:${server}`);
    assert.equal(services['temporal-ui']!.image, `temporalio/ui:${ui}`);
  });

  it('run commands whose entry points exist in the project', function () {
    assert.equal(projectServices.length, 3);
    for (const [name, service] of projectServices) {
      assert.equal(service.build, '.');
      const command = service.command as string[];
      assert.equal(command[0], 'node');
      // Node flags (such as the model server's young-generation size) come before the entry point.
      const entry = /^dist\/(src\/.+)\.js$/.exec(command.slice(1).find((arg) => !arg.startsWith('--'))!);
      assert.ok(entry, `${name} runs a compiled file under dist/src`);
      assert.ok(fs.existsSync(path.join(repoRoot, `${entry[1]}.ts`)), `${name}: ${entry[1]}.ts exists`);
    }
    const cmd = /^CMD \["node", "dist\/(src\/.+)\.js"\]$/m.exec(dockerfile);
    assert.ok(
      cmd && fs.existsSync(path.join(repoRoot, `${cmd[1]}.ts`)),
      'the Dockerfile CMD runs an existing entry point',
    );
  });

  it('only set variables the config schema knows, with values it accepts', function () {
    const known = new Set([...Object.keys(configSchema), ...temporalVariables]);
    const imageEnv = dockerfileEnv();
    assert.ok(Object.keys(imageEnv).length >= 3);
    for (const [name, service] of projectServices) {
      const environment = { ...imageEnv, ...service.environment };
      for (const key of Object.keys(environment))
        assert.ok(known.has(key), `${name}: ${key} is not a variable of src/config.ts`);
      const config = loadConfig({ HOME: '/home/node', ...environment });
      assert.equal(config.worker.useBundle, true, `${name} loads the prebuilt workflow bundle`);
    }
    const serve = loadConfig({ ...imageEnv, ...services['model-server']!.environment });
    assert.deepEqual(services['model-server']!.ports, [
      `\${PUBLISH_ADDRESS:-127.0.0.1}:${serve.serve.port}:${serve.serve.port}`,
    ]);
    // CPU by default; the GPU file reserves one GPU and hands it out.
    assert.equal(loadConfig(services['training-worker']!.environment).training.gpus, 0);
    const gpu = (gpuCompose.services as Record<string, Service & { deploy: unknown }>)['training-worker']!;
    assert.equal(loadConfig({ ...services['training-worker']!.environment, ...gpu.environment }).training.gpus, 1);
    assert.deepEqual(gpu.deploy, {
      resources: { reservations: { devices: [{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }] } },
    });
    assert.deepEqual(Object.keys(gpuCompose.services), ['training-worker']);
  });

  it('mount the store writable for every process that writes to it, the model server and its prediction log included', function () {
    for (const [name, service] of projectServices) {
      const config = loadConfig({ ...dockerfileEnv(), ...service.environment });
      const root = new URL(config.artifactRoot).pathname;
      const store = (service.volumes ?? []).find((v) => root.startsWith(`${v.split(':')[1]}/`));
      assert.ok(store, `${name}: the store ${config.artifactRoot} is on a volume`);
      assert.ok(!store.endsWith(':ro'), `${name}: ${store} is writable`);
    }
    assert.ok(loadConfig({ ...services['model-server']!.environment }).serve.predictionLog, 'the server logs');
    // An empty named volume takes the owner of the folder it is mounted on: the image's, made for the user it runs as.
    assert.match(dockerfile, /^RUN mkdir -p \/data && chown node:node \/data\nUSER node$/m);
  });

  it('publish ports on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise, and take the database password from the environment', function () {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? [])
        assert.match(port, /^\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/, `${name} publishes ${port} on loopback`);
    }
    const passwords = [
      services.postgresql!.environment!.POSTGRES_PASSWORD,
      services.temporal!.environment!.POSTGRES_PWD,
    ];
    for (const password of passwords)
      assert.match(password!, /^\$\{POSTGRES_PASSWORD:\?/, 'required from the environment');
  });

  it('copy only files that exist into the image', function () {
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of match[1]!.split(' '))
        assert.ok(fs.existsSync(path.join(repoRoot, source)), `COPY source ${source} exists`);
    }
  });

  it('comment every exposed port, and declare every volume and dependency they use', function () {
    const servicesNode = compose.get('services');
    assert.ok(isMap(servicesNode));
    for (const item of servicesNode.items) {
      const ports = isMap(item.value) ? item.value.get('ports') : undefined;
      if (!isSeq(ports)) continue;
      for (const port of ports.items)
        assert.ok(
          isScalar(port) && port.comment && port.comment.trim().length > 10,
          `port ${String(port)} of ${String(item.key)} has a comment`,
        );
    }
    const volumes = Object.keys((compose.toJS() as { volumes: Record<string, unknown> }).volumes);
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? [])
        assert.ok(volumes.includes(volume.split(':')[0]!), `${name}: volume ${volume} is declared`);
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) assert.ok(dep in services, `${name} depends on ${dep}, which exists`);
    }
  });

  it('register the search attributes the dev server registers', function () {
    const command = (services['temporal-search-attributes']!.command as string[]).join(' ');
    const registered = [...command.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => `${m[1]}=${m[2]}`);
    assert.deepEqual(registered.sort(), [...searchAttributeFlags].sort());
  });
});
