"""What a letter carries besides its text: a PDF letter per recipient, static files, a
calendar event — built at plan time, so their bytes are part of the composed message and of
its approved hash (DESIGN.md rule 1).

Modules: :mod:`.sniff` (pure: a file's MIME type from its bytes), :mod:`.filenames` (pure: the
letter's file name pattern, safe names), :mod:`.calendar` (pure: a milestone as an RFC 5545
event), :mod:`.pdf` (WeasyPrint, with a fetcher that reads only the campaign's and templates'
folders), :mod:`.files` (the campaign's files on disk: digests, checked reads),
:mod:`.enclosures` (one letter's attachments), :mod:`.listing` (pure: the attachments of stored
bytes), :mod:`.preview` (a PDF's first page as PNG).
"""
