SELECT kz_globals.send('sink', 'a message of about sixty bytes, like a small job description');
