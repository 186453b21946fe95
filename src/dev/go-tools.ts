/**
 * Tools the project builds from Go modules on first use (the Temporal CLI, fake-gcs-server, the BigQuery emulator),
 * cached outside the repository under `<cache dir>/bin/<name>-<version>/` with their module and build caches.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { mlopsError } from '../errors';

export interface GoTool {
  /** Binary name, e.g. `temporal`. */
  binary: string;
  /** Module path of the main package, e.g. `github.com/temporalio/cli/cmd/temporal`. */
  module: string;
  version: string;
  ldflags?: string;
  /** Minimum Go toolchain [major, minor]. */
  minimumGo: [number, number];
  /**
   * Build from the downloaded module source (`go mod download`, then `go build ./<package>`) instead of
   * `go install module@version`, for modules whose version list the proxy refuses (go install needs it).
   */
  fromSource?: { modulePath: string; packageDir: string };
}

export type Log = (line: string) => void;

export function cachedToolPath(cacheDir: string, tool: GoTool): string {
  return path.join(cacheDir, 'bin', `${tool.binary}-${tool.version}`, tool.binary);
}

/** Why `file` cannot be run: it is missing, a folder, or lacks the execute permission. */
function whyNotExecutable(file: string): string {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return 'no such file';
  if (!stat.isFile()) return 'it is not a file';
  return 'it is not executable (chmod +x it, if it is the binary)';
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The Go toolchain version as [major, minor], or undefined when `go` is not installed. */
function goVersion(): [number, number] | undefined {
  const result = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  const match = /go(\d+)\.(\d+)/.exec(result.stdout ?? '');
  return result.status === 0 && match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * Builds the tool with `go install` into the cache (printing progress: the first build downloads modules and compiles
 * for minutes). Throws the error `missing` builds when Go is too old or absent.
 */
export function buildGoTool(
  cacheDir: string,
  tool: GoTool,
  log: Log,
  missing: (goRequirement: string) => Error,
): string {
  const have = goVersion();
  const goRequirement = `>= ${tool.minimumGo.join('.')}`;
  if (!have || have[0] * 1000 + have[1] < tool.minimumGo[0] * 1000 + tool.minimumGo[1]) throw missing(goRequirement);
  const target = cachedToolPath(cacheDir, tool);
  const goDir = path.join(cacheDir, 'go');
  const logFile = path.join(cacheDir, `${tool.binary}-${tool.version}-build.log`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  log(`Building ${tool.binary} ${tool.version} from Go modules into ${path.dirname(target)}.`);
  log('This happens once per machine and can take a few minutes (module download, then compile); later runs reuse it.');
  const started = Date.now();
  const env = {
    ...process.env,
    GOBIN: path.dirname(target),
    GOPATH: goDir,
    GOMODCACHE: path.join(goDir, 'mod'),
    GOCACHE: path.join(goDir, 'build'),
    GOFLAGS: '-mod=mod',
    CGO_ENABLED: '0',
  };
  // Package names go to the terminal as progress; the full output goes to the log.
  const stdio: ['ignore', 'inherit', number] = ['ignore', 'inherit', fs.openSync(logFile, 'w')];
  const result = tool.fromSource
    ? buildFromSource(tool, target, env, stdio, logFile)
    : spawnSync(
        'go',
        ['install', '-v', ...(tool.ldflags ? ['-ldflags', tool.ldflags] : []), `${tool.module}@${tool.version}`],
        { env, stdio },
      );
  if (result.status !== 0 || !isExecutable(target)) {
    throw mlopsError('MLOPS_ERR_DEV_GO_TOOL_BUILD_FAILED', {
      tool: `${tool.binary} ${tool.version}`,
      exit: String(result.status),
      log: logFile,
    });
  }
  log(`${tool.binary} built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return target;
}

/** `go mod download` the module, then `go build` its main package inside the downloaded source. */
function buildFromSource(
  tool: GoTool,
  target: string,
  env: NodeJS.ProcessEnv,
  stdio: ['ignore', 'inherit', number],
  logFile: string,
): { status: number | null } {
  const { modulePath, packageDir } = tool.fromSource!;
  const download = spawnSync('go', ['mod', 'download', '-json', `${modulePath}@${tool.version}`], {
    env,
    encoding: 'utf8',
  });
  const dir = download.status === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : undefined;
  if (!dir) {
    fs.appendFileSync(logFile, `${download.stdout}\n${download.stderr}`);
    return { status: download.status };
  }
  return spawnSync('go', ['build', '-v', '-o', target, `./${packageDir}`], {
    cwd: dir,
    env: { ...env, GOFLAGS: '-mod=readonly' },
    stdio,
  });
}

/** Finds a tool (explicit path, then PATH, then the cache) or builds it. */
export function resolveGoTool(options: {
  cacheDir: string;
  tool: GoTool;
  explicitPath?: string;
  explicitName: string;
  log: Log;
  missing: (searched: string, goRequirement: string) => Error;
}): string {
  const { cacheDir, tool } = options;
  const searched: string[] = [];
  if (options.explicitPath) {
    if (isExecutable(options.explicitPath)) return options.explicitPath;
    // Set to pin a binary: going on to another one would run a version nobody asked for, without a word.
    throw mlopsError('MLOPS_ERR_DEV_TOOL_PATH_INVALID', {
      variable: options.explicitName,
      path: options.explicitPath,
      tool: tool.binary,
      reason: whyNotExecutable(options.explicitPath),
    });
  }
  searched.push(`${options.explicitName} (unset)`);
  const onPath = findOnPath(tool.binary);
  if (onPath) return onPath;
  searched.push('PATH');
  const cached = cachedToolPath(cacheDir, tool);
  if (isExecutable(cached)) return cached;
  searched.push(cached);
  return buildGoTool(cacheDir, tool, options.log, (goRequirement) =>
    options.missing(searched.join(', '), goRequirement),
  );
}
