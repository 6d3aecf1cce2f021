DROP TABLE device_enrolments;
DROP TABLE devices;
