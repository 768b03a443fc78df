// Discovery's queries, by concern: plays (and recently played), trending, recommendations.
export * from './plays.repo.js';
export * from './recommendations.repo.js';
export * from './trending.repo.js';
