import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import { problems } from '../../platform/http.js';
import {
  EventStreamSchema,
  MarkReadBody,
  NotificationFeedSchema,
  NotificationsQuery,
  StreamHeaders,
} from './notifications.schemas.js';
import type { NotificationService } from './notifications.service.js';

export const notificationRoutes: FastifyPluginAsyncTypebox<{ notifications: NotificationService }> = async (
  app,
  opts,
) => {
  const { notifications } = opts;
  const signedIn = requireRole();
  // Open streams would keep close() waiting for their clients; end them first.
  app.addHook('preClose', async () => notifications.closeStreams());

  app.get(
    '/me/notifications',
    {
      preHandler: signedIn,
      schema: {
        tags: ['notifications'],
        operationId: 'listNotifications',
        summary: 'List notifications',
        description: 'Notifications of new songs on followed albums and new albums of followed artists.',
        security: bearerSecurity,
        querystring: NotificationsQuery,
        response: { 200: NotificationFeedSchema, ...problems(401, 403) },
      },
    },
    (request) => {
      const { limit = 20, unreadOnly, cursor } = request.query;
      return notifications.list(request.user!, { limit, unreadOnly, cursor });
    },
  );

  app.post(
    '/me/notifications/read',
    {
      preHandler: signedIn,
      schema: {
        tags: ['notifications'],
        operationId: 'markNotificationsRead',
        summary: 'Mark notifications read',
        description: 'Marks the given notifications read, or all of them when no ids (or no body) are sent.',
        security: bearerSecurity,
        body: MarkReadBody,
        response: { 204: Type.Null(), ...problems(401, 403, 415) },
      },
    },
    async (request, reply) => {
      await notifications.markRead(request.user!, request.body?.ids);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/notifications/stream',
    {
      preHandler: signedIn,
      schema: {
        tags: ['notifications'],
        operationId: 'streamNotifications',
        summary: 'Stream notifications',
        description: 'Live notifications as Server-Sent Events; Last-Event-ID replays what was missed.',
        security: bearerSecurity,
        headers: StreamHeaders,
        response: {
          200: {
            description: 'event stream',
            content: { 'text/event-stream': { schema: EventStreamSchema } },
          },
          ...problems(401, 403, 429),
        },
      },
    },
    (request, reply) => notifications.openStream(request, reply, request.headers['last-event-id']),
  );
};
