export * from './countries';
export * from './match';
export * from './request';
export * from './targeting';
export * from './targetingIndex';
export * from './weekHour';
