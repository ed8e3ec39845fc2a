/**
 * Jest runs TypeScript as ESM through ts-jest (see package.json "test", which adds --experimental-vm-modules).
 * The global setup builds dist/ once, before any file starts.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  globalSetup: '<rootDir>/test/global-setup.mjs',
};
