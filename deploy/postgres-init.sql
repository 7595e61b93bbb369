-- The intent database beside Temporal's two; Temporal's are created by admin-tools.
CREATE DATABASE intent;
