import { Type } from 'typebox';
import { Id, MAX_LIMIT, Nullable, Timestamp } from '../../platform/http.js';
import { nameSchemas } from '../../platform/openapi.js';
import { NOTIFICATION_TYPES } from './notifications.repo.js';

export const NotificationSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'stable; usable in read marks and as Last-Event-ID' }),
  type: Type.Enum(NOTIFICATION_TYPES),
  createdAt: Timestamp,
  readAt: Nullable(Timestamp),
  album: Nullable(Type.Object({ id: Id, title: Type.String() }), {
    description: 'null for event.started',
  }),
  song: Nullable(Type.Object({ id: Id, title: Type.String() })),
  artist: Type.Object({ id: Id, name: Type.String() }),
  event: Nullable(Type.Object({ id: Id, title: Type.String() }), {
    description: 'the listening event of an event.started',
  }),
});

export const NotificationFeedSchema = Type.Object({
  items: Type.Array(NotificationSchema, { description: 'newest first' }),
  nextCursor: Nullable(Type.String()),
  unreadCount: Type.Integer({ minimum: 0 }),
});

export const NotificationsQuery = Type.Object(
  {
    unreadOnly: Type.Optional(Type.Boolean({ default: false })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20 })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);

export const MarkReadBody = Type.Union(
  [
    Type.Object(
      {
        ids: Type.Optional(
          Type.Array(Type.String({ format: 'uuid' }), {
            maxItems: 1000,
            description: 'notifications to mark read; without ids, all of them',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { description: 'no body, {} or { ids }' },
);

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ maxLength: 64, description: 'id of the last event received: replay what came after it' }),
  ),
});

export const EventStreamSchema = Type.String({
  description: 'text/event-stream: `notification` events (id = notification id, data = Notification JSON)',
});

nameSchemas({ Notification: NotificationSchema, NotificationFeed: NotificationFeedSchema });
