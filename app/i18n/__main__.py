from app.i18n.catalog import main

main()
