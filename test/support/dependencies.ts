import type { MlopsConfig } from '../../src/config';
import type { Dependencies, DependencyOverrides } from '../../src/dependencies';
import { buildDependencies } from '../../src/dependencies';
import { testConfig } from './stack';

/** The composition root for a test: its own config (unless given) with clients swapped in by `overrides`. */
export function testDeps(options: DependencyOverrides & { config?: Readonly<MlopsConfig> } = {}): Dependencies {
  const { config = testConfig(), ...overrides } = options;
  return buildDependencies(config, overrides);
}
