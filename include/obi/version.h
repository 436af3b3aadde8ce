#ifndef OBI_VERSION_H
#define OBI_VERSION_H
#define OBI_VERSION "0.2.0"
#endif
