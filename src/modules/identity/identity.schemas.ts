import { Type } from 'typebox';
import { ROLES } from '../../platform/auth.js';
import { Id, ImagesSchema, NullableInput, PageQuery, Timestamp } from '../../platform/http.js';

const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 8, maxLength: 128 });
const DisplayName = Type.String({ minLength: 1, maxLength: 64 });
const RoleSchema = Type.Enum(ROLES);

export const UserSchema = Type.Object({
  id: Id,
  email: Type.Optional(Type.String({ description: 'only to the user themself and admins' })),
  displayName: Type.String(),
  role: RoleSchema,
  artistId: Type.Union([Id, Type.Null()]),
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

export const RegisterBody = Type.Object(
  { email: Email, password: Password, displayName: DisplayName },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
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
