import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import {
  IdParams,
  Nullable,
  PageQuery,
  ProblemSchema,
  pageOf,
  problems,
  Timestamp,
  toPage,
} from '../../platform/http.js';
import { nameSchemas } from '../../platform/openapi.js';
import { type LibraryService, ScanRunningError } from './media.scanner.js';
import { SCAN_STATUSES } from './media.tables.js';

const Count = Type.Integer({ minimum: 0 });

export const ScanSchema = Type.Object({
  id: Type.String(),
  path: Type.String({ description: 'the scanned folder relative to the music folder; "" is its root' }),
  status: Type.Enum([...SCAN_STATUSES]),
  total: Count,
  processed: Count,
  added: Count,
  updated: Count,
  unchanged: Count,
  removed: Count,
  failed: Count,
  errors: Type.Array(Type.Object({ path: Type.String(), code: Type.String() }), {
    description: 'files and folders that failed (at most 1000; `failed` counts them all)',
  }),
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
nameSchemas({ Scan: ScanSchema });

/** `/admin/library/scans`: admins import the music folder and watch the scans. */
export const libraryRoutes: FastifyPluginAsyncTypebox<{ library: LibraryService }> = async (
  app,
  { library },
) => {
  const admin = requireRole('admin');

  app.post(
    '/admin/library/scans',
    {
      preHandler: admin,
      schema: {
        tags: ['admin'],
        operationId: 'startLibraryScan',
        summary: 'Scan the music folder into the catalog',
        description:
          'Queues a scan of the music folder (or a folder inside it): new files are added, changed ones (size or mtime) read again, songs of removed files deleted. `full` reads every file again. One scan runs at a time: while one is queued or running the answer is 409 with that scan as the body. Without a configured music folder the answer is 409 MUSIC_DIR_NOT_CONFIGURED.',
        security: bearerSecurity,
        // Every field is optional, so no body at all is the same as {}.
        body: Type.Union(
          [
            Type.Object(
              {
                path: Type.Optional(Type.String({ maxLength: 4096 })),
                full: Type.Optional(Type.Boolean()),
              },
              { additionalProperties: false },
            ),
            Type.Null(),
          ],
          { description: 'no body, {} or { path, full }' },
        ),
        response: {
          202: ScanSchema,
          ...problems(401, 403),
          409: Type.Union([ScanSchema, ProblemSchema], {
            description: 'the scan already queued or running, or a problem when no music folder is set',
          }),
        },
      },
    },
    async (request, reply) => {
      try {
        return reply.code(202).send(await library.startScan(request.body ?? {}));
      } catch (error) {
        if (error instanceof ScanRunningError) return reply.code(409).send(error.scan);
        throw error;
      }
    },
  );

  app.get(
    '/admin/library/scans',
    {
      preHandler: admin,
      schema: {
        tags: ['admin'],
        operationId: 'listLibraryScans',
        summary: 'List library scans',
        description: 'Scans of the music folder, newest first.',
        security: bearerSecurity,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(ScanSchema), ...problems(401, 403) },
      },
    },
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await library.listScans({ limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );

  app.get(
    '/admin/library/scans/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['admin'],
        operationId: 'getLibraryScan',
        summary: 'Get a library scan',
        description: 'One scan, with its progress while it runs.',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: ScanSchema, ...problems(401, 403, 404) },
      },
    },
    async (request) => library.getScan(request.params.id),
  );
};
