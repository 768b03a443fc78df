import { Type } from 'typebox';
import { ROLES } from '../../platform/auth.js';
import { Id, ImagesSchema, Nullable, NullableInput, PageQuery, Timestamp } from '../../platform/http.js';
import { exampleBody, nameSchemas } from '../../platform/openapi.js';

const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 8, maxLength: 128 });
const DisplayName = Type.String({ minLength: 1, maxLength: 64 });
/** Letters are matched and stored lower-case, so `Ada` and `ada` are one username. */
const USERNAME_RULE = '3..32 of a-z 0-9 . _ -; unique case-insensitively (stored lower-case)';
const Username = (description = USERNAME_RULE) =>
  Type.String({ pattern: '^[A-Za-z0-9._-]{3,32}$', description });
const RoleSchema = Type.Enum(ROLES);

export const UserSchema = Type.Object({
  id: Id,
  email: Type.Optional(Type.String({ description: 'only to the user themself and admins' })),
  username: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  artistId: Nullable(Id),
  blocked: Type.Boolean(),
  images: ImagesSchema,
  createdAt: Timestamp,
});

export const AuthResult = Type.Object({
  user: UserSchema,
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
});

/** An image in several sizes, largest first (filled once avatars can be uploaded). */
export const ImageSchema = Type.Object({ url: Type.String(), width: Type.Integer(), height: Type.Integer() });

/** What anyone may see of a user. */
export const PublicUserSchema = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  images: Type.Array(ImageSchema, { description: 'largest first; empty without an avatar' }),
  publicPlaylistCount: Type.Integer(),
  createdAt: Timestamp,
});

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Password,
    displayName: DisplayName,
    username: Type.Optional(Username(`${USERNAME_RULE}; default: made from the email`)),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.Optional(
      Type.String({ minLength: 1, maxLength: 254, description: 'email or username, not both' }),
    ),
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 32, description: 'email or username, not both' }),
    ),
    password: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);

export const UpdateMeBody = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    username: Type.Optional(Username()),
    currentPassword: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    newPassword: Type.Optional(Password),
  },
  { additionalProperties: false },
);

export const AdminUsersQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(RoleSchema),
    blocked: Type.Optional(Type.Boolean()),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const AdminUpdateUserBody = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    blocked: Type.Optional(Type.Boolean()),
    artistId: Type.Optional(NullableInput(Id)),
  },
  { additionalProperties: false, minProperties: 1 },
);

const USER_EXAMPLE = {
  id: '01939a4e-9fb0-7172-8d54-6e7f8091a2b3',
  email: 'alex@example.com',
  username: 'alex',
  displayName: 'Alex',
  role: 'user',
  artistId: null,
  blocked: false,
  images: [],
  createdAt: '2024-01-05T08:00:00.000Z',
};

nameSchemas({
  User: { schema: UserSchema, example: USER_EXAMPLE },
  AuthResult: {
    schema: AuthResult,
    example: {
      user: USER_EXAMPLE,
      accessToken: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkzOWE0ZSJ9.c2lnbmF0dXJl',
      refreshToken: 'rt_3q2+7w==.Vx9kZ2x3',
      tokenType: 'Bearer',
      expiresIn: 900,
    },
  },
  PublicUser: PublicUserSchema,
});

exampleBody(RegisterBody, {
  email: 'alex@example.com',
  password: 'correct horse battery staple',
  displayName: 'Alex',
  username: 'alex',
});
exampleBody(LoginBody, { email: 'alex@example.com', password: 'correct horse battery staple' });
