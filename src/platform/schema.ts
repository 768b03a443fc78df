// Every module's tables, for drizzle (relational queries) and drizzle-kit (migrations).
export * from '../modules/catalog/catalog.tables.js';
export * from '../modules/identity/identity.tables.js';
export { outboxEvents } from './events.js';
